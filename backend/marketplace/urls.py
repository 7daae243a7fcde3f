from django.urls import path

from backend.marketplace import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("sessions/", views.session_list, name="sessions"),
    path("sessions/<int:session_id>/", views.session_detail, name="session-detail"),
    path("sessions/<int:session_id>/book/", views.session_book, name="session-book"),
    path("sessions/<int:session_id>/waitlist/", views.session_waitlist, name="session-waitlist"),
    path("bookings/<int:booking_id>/cancel/", views.booking_cancel, name="booking-cancel"),
    path("bookings/<int:booking_id>/claim/", views.booking_claim, name="booking-claim"),
    path("mentors/", views.mentor_list, name="mentors"),
    path("mentors/<int:mentor_id>/", views.mentor_detail, name="mentor-detail"),
    path("mentors/<int:mentor_id>/request/", views.mentor_request, name="mentor-request"),
    path("mentors/<int:mentor_id>/follow/", views.mentor_follow, name="mentor-follow"),
    path("dashboard/learner/bookings/", views.learner_bookings, name="learner-bookings"),
    path("dashboard/learner/bookings/<int:booking_id>/", views.learner_booking, name="learner-booking"),
]
