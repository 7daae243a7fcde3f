"""Withdrawals: a mentor asks for part of the available balance, which is held at once; an admin
approves and marks it paid with the transfer reference, or rejects it and the money goes back.
Every step keeps the ledger balanced, refuses cleanly (writing nothing), is audited and tells the
mentor; two requests racing for the same rupees cannot both win (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.db.models import Sum
from django.http import Http404

from backend.accounts.models import AuditEvent, Role, User
from backend.core.errors import DomainError
from backend.payments import ledger
from backend.payments import withdrawals as w
from backend.payments.models import LedgerEntry, PayoutKind, PayoutMethod, Wallet, Withdrawal, WithdrawalState
from tests.conftest import make_user

GROSS = 100_000  # ₹1,000 paid in; at a 10 % fee the mentor keeps ₹900
SHARE = 90_000


@pytest.fixture
def published(monkeypatch):
    sent: list[tuple[str, list[int], dict]] = []

    def record(event, *, to, data=None):
        sent.append((event, sorted(getattr(u, "pk", u) for u in to), data or {}))

    monkeypatch.setattr(w, "publish", record)
    return sent


@pytest.fixture
def funded(settings, mentor):
    """The mentor with ₹900 available: a session paid (less the fee) and released."""
    settings.PLATFORM_FEE_PERCENT = 10
    posted = ledger.charge(mentor_id=mentor.pk, gross_paise=GROSS)
    ledger.release(mentor_id=mentor.pk, amount_paise=posted.share_paise)
    return mentor


@pytest.fixture
def upi(funded):
    return w.payout_method_save(mentor=funded, kind="upi", upi_vpa="ravi.kumar@okaxis")


def balances(mentor) -> tuple[int, int, int]:
    wallet = Wallet.objects.get(mentor=mentor)
    sums = tuple(ledger.balance(acc(mentor.pk)) for acc in (ledger.pending, ledger.available, ledger.withdrawing))
    assert sums == (wallet.pending_paise, wallet.available_paise, wallet.withdrawing_paise)
    return wallet.available_paise, wallet.withdrawing_paise, ledger.balance(ledger.EXTERNAL)


def assert_ledger_balanced() -> None:
    assert (LedgerEntry.objects.aggregate(total=Sum("amount_paise"))["total"] or 0) == 0
    for txn in LedgerEntry.objects.values("txn").annotate(total=Sum("amount_paise")):
        assert txn["total"] == 0


def writes() -> tuple[int, int, int]:
    return Withdrawal.objects.count(), LedgerEntry.objects.count(), AuditEvent.objects.count()


def refused(code: str, call, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(**kwargs)
    assert caught.value.code == code, caught.value.as_dict()
    return caught.value


# --- Payout methods ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_methods_are_stored_in_full_shown_masked_and_the_latest_is_the_one_default(mentor):
    upi = w.payout_method_save(mentor=mentor, kind="upi", upi_vpa="  Ravi.Kumar@OKAXIS ")
    assert (upi.upi_vpa, upi.display, upi.holder, upi.account_number) == ("ravi.kumar@okaxis", "ra•••@okaxis", "", "")
    bank = w.payout_method_save(
        mentor=mentor, kind="bank", holder=" Ravi  Kumar ", ifsc="hdfc0001234", account_number="5010 0123 4321"
    )
    assert (bank.holder, bank.ifsc, bank.account_number) == ("Ravi Kumar", "HDFC0001234", "501001234321")
    assert bank.display == "•••• 4321" and "501001234321" not in str(bank)
    assert list(w.payout_methods_of_mentor(mentor).filter(is_default=True)) == [bank]
    again = w.payout_method_save(mentor=mentor, kind="upi", upi_vpa="ravi.kumar@okaxis")
    assert again.pk == upi.pk and again.is_default
    assert PayoutMethod.objects.filter(mentor=mentor).count() == 2
    assert PayoutMethod.objects.filter(mentor=mentor, is_default=True).count() == 1
    assert AuditEvent.objects.filter(action="payout_method.saved", actor=mentor).count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kind, details, bad_fields",
    [
        ("upi", {"upi_vpa": "ravi"}, {"upi_vpa"}),
        ("upi", {"upi_vpa": "r@okaxis"}, {"upi_vpa"}),
        ("upi", {"upi_vpa": "ravi@ok-axis"}, {"upi_vpa"}),
        ("upi", {"upi_vpa": "ra vi@okaxis"}, {"upi_vpa"}),
        ("bank", {"holder": "Ravi", "ifsc": "HDFC1001234", "account_number": "501001234321"}, {"ifsc"}),
        ("bank", {"holder": "Ravi", "ifsc": "HDF0001234", "account_number": "501001234321"}, {"ifsc"}),
        ("bank", {"holder": "Ravi", "ifsc": "HDFC0001234", "account_number": "12345678"}, {"account_number"}),
        ("bank", {"holder": "Ravi", "ifsc": "HDFC0001234", "account_number": "1" * 19}, {"account_number"}),
        ("bank", {"holder": "Ravi", "ifsc": "HDFC0001234", "account_number": "١٢٣٤٥٦٧٨٩٠"}, {"account_number"}),
        ("bank", {"holder": "R", "ifsc": "HDFC0001234", "account_number": "501001234321"}, {"holder"}),
        ("bank", {}, {"holder", "ifsc", "account_number"}),
        ("paypal", {"upi_vpa": "ravi@okaxis"}, {"kind"}),
    ],
)
def test_bad_payout_details_are_refused_per_field(mentor, kind, details, bad_fields):
    error = refused("invalid", w.payout_method_save, mentor=mentor, kind=kind, **details)
    assert set(error.fields) == bad_fields
    assert not PayoutMethod.objects.exists()


@pytest.mark.django_db
def test_only_mentors_save_payout_methods(learner, admin_user):
    for user in (learner, admin_user):
        refused("wrong_role", w.payout_method_save, mentor=user, kind="upi", upi_vpa="lena@okaxis")
    assert not PayoutMethod.objects.exists()


# --- Requests ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_request_within_the_balance_moves_it_from_available_to_withdrawing(funded, upi, published):
    withdrawal = w.withdrawal_request(mentor=funded, amount_paise=50_000, method=upi)
    assert withdrawal.state == WithdrawalState.REQUESTED
    assert withdrawal.method_display == "UPI ra•••@okaxis" and withdrawal.hold_txn
    assert balances(funded)[:2] == (SHARE - 50_000, 50_000)
    assert_ledger_balanced()
    assert published == [("withdrawal.requested", [funded.pk], w._event_data(withdrawal))]
    assert AuditEvent.objects.filter(action="withdrawal.requested", actor=funded, target_id=str(withdrawal.pk)).exists()
    # A second open request is fine while the balance covers it.
    w.withdrawal_request(mentor=funded, amount_paise=SHARE - 50_000, method=upi)
    assert balances(funded)[:2] == (0, SHARE)
    assert list(w.withdrawals_of_mentor(funded).values_list("amount_paise", flat=True)) == [40_000, 50_000]


@pytest.mark.django_db
def test_a_request_above_the_available_balance_is_refused_and_writes_nothing(funded, upi, published):
    before, wallet_before = writes(), balances(funded)
    error = refused("insufficient_balance", w.withdrawal_request, mentor=funded, amount_paise=SHARE + 1, method=upi)
    assert "₹900" in error.message and error.status == 409
    assert writes() == before and balances(funded) == wallet_before and published == []


@pytest.mark.django_db
def test_the_minimum_is_100_rupees(funded, upi):
    before = writes()
    for amount in (w.MIN_WITHDRAWAL_PAISE - 1, 1):
        error = refused("below_minimum", w.withdrawal_request, mentor=funded, amount_paise=amount, method=upi)
        assert "₹100" in error.message and "amount_paise" in error.fields
    for amount in (0, -500, True, 150.0):
        refused("invalid_amount", w.withdrawal_request, mentor=funded, amount_paise=amount, method=upi)
    assert writes() == before
    w.withdrawal_request(mentor=funded, amount_paise=w.MIN_WITHDRAWAL_PAISE, method=upi)


@pytest.mark.django_db
def test_a_learner_or_another_mentors_method_is_refused(funded, upi, learner, domains):
    other = make_user("otto.other@example.com", Role.MENTOR)
    others_method = w.payout_method_save(mentor=other, kind="upi", upi_vpa="otto@ybl")
    before = writes()
    refused("wrong_role", w.withdrawal_request, mentor=learner, amount_paise=20_000, method=upi)
    refused("not_your_method", w.withdrawal_request, mentor=funded, amount_paise=20_000, method=others_method)
    assert writes() == before
    with pytest.raises(Http404):
        w.get_payout_method_for_mentor(funded, others_method.pk)


# --- Decisions --------------------------------------------------------------------------------


@pytest.fixture
def requested(funded, upi):
    return w.withdrawal_request(mentor=funded, amount_paise=60_000, method=upi)


@pytest.mark.django_db
def test_approve_then_mark_paid_sends_the_money_out(funded, requested, admin_user, published):
    external_before = balances(funded)[2]
    approved = w.withdrawal_decide(admin=admin_user, withdrawal=requested, approve=True)
    assert (approved.state, approved.decided_by, approved.decided_at is not None) == ("approved", admin_user, True)
    assert balances(funded)[:2] == (SHARE - 60_000, 60_000)  # still held until the transfer is made
    paid = w.withdrawal_mark_paid(admin=admin_user, withdrawal=approved, reference=" UTR2024061500123 ")
    assert (paid.state, paid.reference, paid.paid_txn is not None) == ("paid", "UTR2024061500123", True)
    available, withdrawing, external = balances(funded)
    assert (available, withdrawing, external - external_before) == (SHARE - 60_000, 0, 60_000)
    assert_ledger_balanced()
    assert [(event, to) for event, to, _ in published] == [
        ("withdrawal.approved", [funded.pk]),
        ("withdrawal.paid", [funded.pk]),
    ]
    assert published[-1][2]["reference"] == "UTR2024061500123"
    for action in ("withdrawal.approved", "withdrawal.paid"):
        entry = AuditEvent.objects.get(action=action)
        assert (entry.actor, entry.target_type, entry.target_id) == (admin_user, "withdrawal", str(paid.pk))
        assert entry.data["amount_paise"] == 60_000


@pytest.mark.django_db
def test_reject_needs_a_reason_and_returns_the_money(funded, requested, admin_user, published):
    refused("reason_required", w.withdrawal_decide, admin=admin_user, withdrawal=requested, approve=False, reason=" ")
    assert Withdrawal.objects.get(pk=requested.pk).state == "requested" and published == []
    rejected = w.withdrawal_decide(
        admin=admin_user, withdrawal=requested, approve=False, reason="The UPI ID does not match your name."
    )
    assert (rejected.state, rejected.reason, rejected.release_txn is not None) == (
        "rejected",
        "The UPI ID does not match your name.",
        True,
    )
    assert balances(funded)[:2] == (SHARE, 0)
    assert_ledger_balanced()
    assert published == [("withdrawal.rejected", [funded.pk], w._event_data(rejected))]
    entry = AuditEvent.objects.get(action="withdrawal.rejected")
    assert entry.actor == admin_user and entry.data["reason"] == rejected.reason


@pytest.mark.django_db
def test_only_another_admin_decides(funded, requested, learner, published):
    before = writes()
    for user in (funded, learner):
        refused("wrong_role", w.withdrawal_decide, admin=user, withdrawal=requested, approve=True)
        refused("wrong_role", w.withdrawal_mark_paid, admin=user, withdrawal=requested, reference="UTR123")
        with pytest.raises(Http404):
            w.get_withdrawal_for_admin(user, requested.pk)
    # A mentor made admin later still cannot approve or pay out their own withdrawal.
    User.objects.filter(pk=funded.pk).update(role=Role.ADMIN)
    own = User.objects.get(pk=funded.pk)
    refused("own_withdrawal", w.withdrawal_decide, admin=own, withdrawal=requested, approve=True)
    refused("own_withdrawal", w.withdrawal_mark_paid, admin=own, withdrawal=requested, reference="UTR123")
    assert writes() == before and published == []
    assert Withdrawal.objects.get(pk=requested.pk).state == "requested"


@pytest.mark.django_db
def test_finished_withdrawals_cannot_be_decided_or_paid_again(funded, upi, admin_user):
    first = w.withdrawal_request(mentor=funded, amount_paise=30_000, method=upi)
    second = w.withdrawal_request(mentor=funded, amount_paise=30_000, method=upi)
    refused("not_approved", w.withdrawal_mark_paid, admin=admin_user, withdrawal=first, reference="UTR1")
    w.withdrawal_decide(admin=admin_user, withdrawal=first, approve=True)
    w.withdrawal_mark_paid(admin=admin_user, withdrawal=first, reference="UTR1")
    w.withdrawal_decide(admin=admin_user, withdrawal=second, approve=False, reason="Wrong account.")
    before, money = writes(), balances(funded)
    for done in (first, second):  # stale objects: the service re-reads the row
        for approve in (True, False):
            refused(
                "already_decided",
                w.withdrawal_decide,
                admin=admin_user,
                withdrawal=done,
                approve=approve,
                reason="x" * 5,
            )
        refused("not_approved", w.withdrawal_mark_paid, admin=admin_user, withdrawal=done, reference="UTR2")
    assert writes() == before and balances(funded) == money
    assert money[:2] == (SHARE - 30_000, 0)


@pytest.mark.django_db
def test_a_transfer_reference_is_required_and_pays_one_withdrawal(funded, upi, admin_user):
    first, second = (w.withdrawal_request(mentor=funded, amount_paise=20_000, method=upi) for _ in range(2))
    for withdrawal in (first, second):
        w.withdrawal_decide(admin=admin_user, withdrawal=withdrawal, approve=True)
    for bad in ("", "  ", "ab", "x" * 65, "UTR 123"):
        refused("reference_required", w.withdrawal_mark_paid, admin=admin_user, withdrawal=first, reference=bad)
    w.withdrawal_mark_paid(admin=admin_user, withdrawal=first, reference="UTR123")
    refused("reference_used", w.withdrawal_mark_paid, admin=admin_user, withdrawal=second, reference="UTR123")
    assert Withdrawal.objects.get(pk=second.pk).state == "approved"
    assert w.get_withdrawal_for_admin(admin_user, second.pk).method_display == "UPI ra•••@okaxis"


# --- The race ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_requests_racing_for_the_same_balance_only_one_wins(settings, mentor, published):
    settings.PLATFORM_FEE_PERCENT = 10
    posted = ledger.charge(mentor_id=mentor.pk, gross_paise=GROSS)
    ledger.release(mentor_id=mentor.pk, amount_paise=posted.share_paise)
    method = w.payout_method_save(
        mentor=mentor, kind=PayoutKind.BANK, holder="Maya", ifsc="SBIN0000001", account_number="123456789"
    )
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def race():
        try:
            start.wait()
            w.withdrawal_request(mentor=mentor, amount_paise=60_000, method=method)  # only one of two fits
            outcomes.append("requested")
        except DomainError as exc:
            outcomes.append(exc.code)
        except Exception as exc:  # noqa: BLE001 - any other failure is a test failure, report it
            outcomes.append(f"error: {exc!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=race) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["insufficient_balance", "requested"], outcomes
    assert Withdrawal.objects.count() == 1
    assert balances(mentor)[:2] == (SHARE - 60_000, 60_000)
    assert LedgerEntry.objects.filter(amount_paise__lt=0, account__startswith="mentor:").count() == 2
    assert_ledger_balanced()
    assert [event for event, _, _ in published] == ["withdrawal.requested"]


@pytest.mark.django_db
def test_an_approved_withdrawal_whose_transfer_failed_returns_the_money(funded, requested, admin_user):
    w.withdrawal_decide(admin=admin_user, withdrawal=requested, approve=True)
    refused("already_decided", w.withdrawal_decide, admin=admin_user, withdrawal=requested, approve=True)
    rejected = w.withdrawal_decide(
        admin=admin_user, withdrawal=requested, approve=False, reason="The bank returned the transfer."
    )
    assert rejected.state == "rejected"
    assert balances(funded)[:2] == (SHARE, 0)  # available again, nothing withdrawing
    assert_ledger_balanced()
