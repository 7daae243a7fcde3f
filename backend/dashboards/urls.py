from django.urls import path

from backend.dashboards import views

urlpatterns = [
    path("", views.dashboard_redirect, name="dashboard"),
    path("learner/", views.learner_home, name="dashboard-learner"),
    path("mentor/", views.mentor_home, name="dashboard-mentor"),
    path("admin/", views.admin_home, name="dashboard-admin"),
    path("admin/mentors/<int:user_id>/decide/", views.admin_mentor_decide, name="dashboard-admin-mentor-decide"),
]
