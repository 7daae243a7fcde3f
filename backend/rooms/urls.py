from django.urls import path

from backend.rooms import views

urlpatterns = [
    path("room/<str:code>/", views.room, name="room"),
    path("room/<str:code>/review/", views.room_review, name="room-review"),
]
