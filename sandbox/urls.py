from django.urls import path

from sandbox import views

app_name = "sandbox"

urlpatterns = [
    path("weather/location", views.weather_location, name="weather-location"),
]
