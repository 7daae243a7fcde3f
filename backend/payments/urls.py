from django.urls import path

from backend.payments import views

urlpatterns = [
    path("api/payments/webhook/", views.webhook, name="payments-webhook"),
    path("payments/checkout/<int:booking_id>/", views.checkout, name="checkout"),
    path("payments/callback/", views.checkout_callback, name="checkout-callback"),
    path("payments/orders/<int:order_id>/", views.order_checkout, name="order-checkout"),
    path("payments/orders/<int:order_id>/test-pay/", views.checkout_test_pay, name="checkout-test-pay"),
    path("payments/orders/<int:order_id>/verify/", views.checkout_verify, name="checkout-verify"),
    path("payments/tips/<int:booking_id>/", views.tip, name="tip"),
]
