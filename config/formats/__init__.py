"""Date formats of the site (FORMAT_MODULE_PATH): every time shown names its zone."""
