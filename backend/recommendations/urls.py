from django.urls import path

from backend.recommendations import views

urlpatterns = [
    path("", views.admin_recommendations, name="admin-recommendations"),
    path("retrain/", views.admin_recommendations_retrain, name="admin-recommendations-retrain"),
]
