from django.urls import path

from backend.marketplace import api

urlpatterns = [
    path("sessions/", api.SessionListView.as_view(), name="api-sessions"),
    path("sessions/<int:session_id>/", api.SessionDetailView.as_view(), name="api-session"),
    path("mentor/sessions/", api.MentorSessionListView.as_view(), name="api-mentor-sessions"),
    path("mentor/sessions/<int:session_id>/", api.MentorSessionDetailView.as_view(), name="api-mentor-session"),
    path(
        "mentor/sessions/<int:session_id>/publish/",
        api.MentorSessionPublishView.as_view(),
        name="api-mentor-session-publish",
    ),
    path(
        "mentor/sessions/<int:session_id>/reschedule/",
        api.MentorSessionRescheduleView.as_view(),
        name="api-mentor-session-reschedule",
    ),
    path(
        "mentor/sessions/<int:session_id>/cancel/",
        api.MentorSessionCancelView.as_view(),
        name="api-mentor-session-cancel",
    ),
    path("bookings/", api.BookingListView.as_view(), name="api-bookings"),
    path("bookings/<int:booking_id>/", api.BookingDetailView.as_view(), name="api-booking"),
    path("bookings/<int:booking_id>/cancel/", api.BookingCancelView.as_view(), name="api-booking-cancel"),
    path("bookings/<int:booking_id>/invite.ics", api.BookingInviteView.as_view(), name="api-booking-invite"),
]

urlpatterns += [
    path("bookings/<int:booking_id>/claim/", api.BookingClaimView.as_view(), name="api-booking-claim"),
    path("bookings/<int:booking_id>/review/", api.ReviewCreateView.as_view(), name="api-booking-review"),
    path("waitlist/", api.WaitlistJoinView.as_view(), name="api-waitlist"),
    path("waitlist/<int:entry_id>/leave/", api.WaitlistLeaveView.as_view(), name="api-waitlist-leave"),
    path("mentors/<int:mentor_id>/follow/", api.FollowView.as_view(), name="api-follow"),
    path("requests/", api.RequestListView.as_view(), name="api-requests"),
    path("requests/<int:request_id>/", api.RequestDetailView.as_view(), name="api-request"),
    path("mentor/availability/", api.AvailabilityView.as_view(), name="api-mentor-availability"),
]
