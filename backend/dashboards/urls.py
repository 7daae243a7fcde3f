from django.urls import include, path

from backend.dashboards import admin_reports, admin_sessions, admin_users, money, views

urlpatterns = [
    path("", views.dashboard_redirect, name="dashboard"),
    path("learner/", views.learner_home, name="dashboard-learner"),
    path("learner/requests/", views.learner_requests, name="learner-requests"),
    path("learner/requests/<int:request_id>/answer/", views.learner_request_answer, name="learner-request-answer"),
    path(
        "learner/requests/<int:request_id>/withdraw/", views.learner_request_withdraw, name="learner-request-withdraw"
    ),
    path("learner/progress/", views.learner_progress, name="learner-progress"),
    path("learner/payments/", money.learner_payments, name="learner-payments"),
    path("learner/payments/<int:order_id>/receipt/", money.learner_receipt, name="learner-receipt"),
    path("mentor/", views.mentor_home, name="dashboard-mentor"),
    path("mentor/sessions/", views.mentor_sessions, name="mentor-sessions"),
    path("mentor/sessions/new/", views.mentor_session_new, name="mentor-session-new"),
    path("mentor/sessions/<int:session_id>/edit/", views.mentor_session_edit, name="mentor-session-edit"),
    path("mentor/sessions/<int:session_id>/publish/", views.mentor_session_publish, name="mentor-session-publish"),
    path(
        "mentor/sessions/<int:session_id>/reschedule/",
        views.mentor_session_reschedule,
        name="mentor-session-reschedule",
    ),
    path("mentor/sessions/<int:session_id>/cancel/", views.mentor_session_cancel, name="mentor-session-cancel"),
    path("mentor/requests/", views.mentor_requests, name="mentor-requests"),
    path("mentor/requests/<int:request_id>/accept/", views.mentor_request_accept, name="mentor-request-accept"),
    path("mentor/requests/<int:request_id>/counter/", views.mentor_request_counter, name="mentor-request-counter"),
    path("mentor/requests/<int:request_id>/decline/", views.mentor_request_decline, name="mentor-request-decline"),
    path("mentor/availability/", views.mentor_availability, name="mentor-availability"),
    path("mentor/availability/away/", views.mentor_away, name="mentor-away"),
    path("mentor/analytics/", views.mentor_analytics, name="mentor-analytics"),
    path("mentor/earnings/", money.mentor_earnings, name="mentor-earnings"),
    path("mentor/earnings.csv", money.mentor_earnings_csv, name="mentor-earnings-csv"),
    path("mentor/withdrawals/", money.mentor_withdrawals, name="mentor-withdrawals"),
    path("mentor/withdrawals/methods/", money.mentor_payout_method_add, name="mentor-payout-method-add"),
    path("admin/", views.admin_home, name="dashboard-admin"),
    path("admin/mentors/<int:user_id>/decide/", views.admin_mentor_decide, name="dashboard-admin-mentor-decide"),
    path("admin/", include(admin_users)),
    path("admin/", include(admin_sessions)),
    path("admin/", include(admin_reports)),
]
