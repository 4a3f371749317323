from django.urls import path

from sandbox import llm, views

app_name = "sandbox"

urlpatterns = [
    path("weather/location", views.weather_location, name="weather-location"),
    path("api/todos", views.todo_list, name="todo-list"),
    path("api/todos/<int:todo_id>", views.todo_detail, name="todo-detail"),
    path("api/openapi.json", views.todo_openapi, name="todo-openapi"),
    path("llm/v1/chat/completions", llm.chat_completions, name="llm-chat-completions"),
]
