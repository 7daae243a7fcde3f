from django.urls import path

from backend.recommendations import api

urlpatterns = [path("", api.RecommendationsView.as_view(), name="api-recommendations")]
