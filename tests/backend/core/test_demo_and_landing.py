import pytest
from django.core.management import call_command

from backend.accounts.models import User
from backend.marketplace.models import Booking, Review, Session
from tests.conftest import Client

pytestmark = pytest.mark.django_db


def test_demo_data_is_believable_marked_and_idempotent():
    call_command("demo_data", quiet_logins=True, force=True)
    counts = (User.objects.count(), Session.objects.count(), Booking.objects.count(), Review.objects.count())
    assert User.objects.filter(role="mentor").count() >= 6 and User.objects.filter(role="learner").count() >= 8
    assert Session.objects.filter(state="scheduled").exists() and Session.objects.filter(state="completed").exists()
    assert Review.objects.exists()
    assert not User.objects.filter(is_demo=False).exists()
    # Paid seats have their money in the ledger (balanced), released for past sessions.
    from django.db.models import Sum

    from backend.payments.models import LedgerEntry, PaymentOrder, Wallet

    paid = Booking.objects.filter(session__price_paise__gt=0).count()
    assert paid and PaymentOrder.objects.filter(outcome="demo", state="paid").count() == paid
    assert LedgerEntry.objects.aggregate(total=Sum("amount_paise"))["total"] == 0
    assert Wallet.objects.filter(available_paise__gt=0).exists()
    call_command("demo_data", quiet_logins=True, force=True)
    assert (User.objects.count(), Session.objects.count(), Booking.objects.count(), Review.objects.count()) == counts
    call_command("demo_data", reset=True, quiet_logins=True, force=True)
    assert User.objects.count() == counts[0]


def test_demo_data_refuses_production(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    settings.EMBEDDED = False
    with pytest.raises(CommandError):
        call_command("demo_data", quiet_logins=True)
    assert not User.objects.exists()


def test_landing_shows_real_sessions_and_mentors_labelled_demo():
    call_command("demo_data", quiet_logins=True, force=True)
    page = Client().get("/").content.decode()
    upcoming = Session.objects.filter(state="scheduled").order_by("starts_at").first()
    assert upcoming.title in page
    assert "Demo" in page
    assert "Ananya Iyer" in page


def test_landing_empty_states_are_honest():
    page = Client().get("/").content.decode()
    assert "No sessions are scheduled yet." in page
    assert "Our first mentors are being approved." in page


def test_category_tabs_follow_the_curated_order():
    page = Client().get("/").content.decode()
    assert (
        page.index('data-filter="programming"')
        < page.index('data-filter="business"')
        < page.index('data-filter="exams"')
    )
