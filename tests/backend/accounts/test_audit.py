import pytest
from django.utils.functional import SimpleLazyObject

from backend.accounts.audit import audit_record

pytestmark = pytest.mark.django_db


def test_a_lazy_request_user_is_recorded_as_the_user_it_wraps(learner):
    event = audit_record(action="auth.2fa_verified", actor=learner, target=SimpleLazyObject(lambda: learner))
    event.refresh_from_db()
    assert (event.target_type, event.target_id, event.actor) == ("user", str(learner.pk), learner)
