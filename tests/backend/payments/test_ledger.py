"""The ledger: every transaction balances, fee and share add up to the gross, and whatever
sequence of charges, tips, refunds, releases and payouts happens, each mentor's wallet equals the
sum of their entries and no balance goes below zero; a refused posting writes nothing."""

from __future__ import annotations

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from backend.payments import ledger
from backend.payments.models import LedgerEntry, Wallet
from tests.conftest import make_user


@pytest.mark.parametrize("gross", [1, 99, 100, 105, 999, 49_999, 1_000_000])
@pytest.mark.parametrize("percent", [0, 10, 15, 50])
def test_fee_and_share_add_up_to_the_gross(gross, percent):
    fee, share = ledger.split(gross, percent)
    assert fee + share == gross and fee >= 0 and share >= 0
    assert abs(fee - gross * percent / 100) <= 0.5


@pytest.mark.django_db
def test_a_charge_then_a_full_refund_leaves_everyone_where_they_started(settings):
    settings.PLATFORM_FEE_PERCENT = 10
    mentor = make_user("m@example.com", "mentor")
    posted = ledger.charge(mentor_id=mentor.pk, gross_paise=49_900, reference="pay_1")
    assert (posted.fee_paise, posted.share_paise) == (4_990, 44_910)
    wallet = Wallet.objects.get(mentor=mentor)
    assert (wallet.pending_paise, wallet.available_paise) == (44_910, 0)
    ledger.refund(
        mentor_id=mentor.pk, amount_paise=49_900, charged_paise=49_900, charged_fee_paise=4_990, reference="rfnd_1"
    )
    for account in (ledger.EXTERNAL, ledger.PLATFORM_FEES, ledger.pending(mentor.pk)):
        assert ledger.balance(account) == 0


@pytest.mark.django_db
def test_a_refused_posting_writes_nothing(settings):
    settings.PLATFORM_FEE_PERCENT = 10
    mentor = make_user("m@example.com", "mentor")
    ledger.charge(mentor_id=mentor.pk, gross_paise=10_000)
    before = LedgerEntry.objects.count()
    with pytest.raises(ledger.LedgerError) as refused:
        ledger.withdrawal_hold(mentor_id=mentor.pk, amount_paise=1)  # nothing is available yet
    assert refused.value.code == "insufficient_balance"
    with pytest.raises(ledger.LedgerError):
        ledger.refund(mentor_id=mentor.pk, amount_paise=20_000, charged_paise=10_000, charged_fee_paise=1_000)
    with pytest.raises(ledger.LedgerError):
        ledger.charge(mentor_id=mentor.pk, gross_paise=-5)
    assert LedgerEntry.objects.count() == before
    assert Wallet.objects.get(mentor=mentor).pending_paise == 9_000


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["charge", "tip", "refund", "release", "hold", "paid", "return"]),
        st.integers(min_value=0, max_value=1),  # which mentor
        st.integers(min_value=1, max_value=500_000),  # amount in paise
        st.integers(min_value=0, max_value=50),  # fee percent at the time
    ),
    max_size=25,
)


class LedgerPropertyTest(HypothesisTestCase):
    @hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(OPERATIONS)
    def test_any_sequence_keeps_every_balance_equal_to_its_entries_and_never_negative(self, operations):
        from django.test import override_settings

        mentors = [make_user(f"m{i}@example.com", "mentor") for i in range(2)]
        charges: list[tuple[int, int, int, int]] = []  # (mentor, gross, fee, refunded so far)
        for name, which, amount, percent in operations:
            mentor = mentors[which].pk
            try:
                with override_settings(PLATFORM_FEE_PERCENT=percent):
                    if name in ("charge", "tip"):
                        posted = ledger.charge(mentor_id=mentor, gross_paise=amount, kind=name)
                        charges.append([mentor, amount, posted.fee_paise, 0])
                    elif name == "refund":
                        mine = [c for c in charges if c[0] == mentor and c[1] > c[3]]
                        if mine:
                            target = mine[0]
                            part = min(amount, target[1] - target[3])
                            ledger.refund(
                                mentor_id=mentor,
                                amount_paise=part,
                                charged_paise=target[1],
                                charged_fee_paise=target[2],
                            )
                            target[3] += part
                    else:
                        post = {
                            "release": ledger.release,
                            "hold": ledger.withdrawal_hold,
                            "paid": ledger.withdrawal_paid,
                            "return": ledger.withdrawal_release,
                        }[name]
                        post(mentor_id=mentor, amount_paise=amount)
            except ledger.LedgerError:
                pass  # refused: must have written nothing, checked below through the sums
            self.assert_consistent(mentors)

    def assert_consistent(self, mentors):
        assert (LedgerEntry.objects.aggregate(total=Sum("amount_paise"))["total"] or 0) == 0
        for txn_total in LedgerEntry.objects.values("txn").annotate(total=Sum("amount_paise")):
            assert txn_total["total"] == 0
        assert ledger.balance(ledger.PLATFORM_FEES) >= 0
        for mentor in mentors:
            wallet = Wallet.objects.filter(mentor=mentor).first()
            sums = {
                "pending": ledger.balance(ledger.pending(mentor.pk)),
                "available": ledger.balance(ledger.available(mentor.pk)),
                "withdrawing": ledger.balance(ledger.withdrawing(mentor.pk)),
            }
            if wallet is None:
                assert sums == {"pending": 0, "available": 0, "withdrawing": 0}
                continue
            assert sums == {
                "pending": wallet.pending_paise,
                "available": wallet.available_paise,
                "withdrawing": wallet.withdrawing_paise,
            }
            assert min(sums.values()) >= 0
            assert ledger.balance(ledger.owed(mentor.pk)) <= 0  # what a mentor owes, never a credit
