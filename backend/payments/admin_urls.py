"""Admin money pages, mounted under /dashboard/admin/."""

from django.urls import path

from backend.payments import admin_views as views

urlpatterns = [
    path("payments/", views.admin_payments, name="admin-payments"),
    path("payments/export.csv", views.admin_payments_csv, name="admin-payments-csv"),
    path("payments/<int:order_id>/", views.admin_payment, name="admin-payment"),
    path("refunds/", views.admin_refunds, name="admin-refunds"),
    path("refunds/export.csv", views.admin_refunds_csv, name="admin-refunds-csv"),
    path("refunds/<int:refund_id>/retry/", views.admin_refund_retry, name="admin-refund-retry"),
    path("withdrawals/", views.admin_withdrawals, name="admin-withdrawals"),
    path("withdrawals/export.csv", views.admin_withdrawals_csv, name="admin-withdrawals-csv"),
    path("withdrawals/<int:withdrawal_id>/", views.admin_withdrawal, name="admin-withdrawal"),
    path("withdrawals/<int:withdrawal_id>/decide/", views.admin_withdrawal_decide, name="admin-withdrawal-decide"),
    path("withdrawals/<int:withdrawal_id>/paid/", views.admin_withdrawal_paid, name="admin-withdrawal-paid"),
]
