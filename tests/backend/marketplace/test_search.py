"""Word-prefix session search: rare words via the term index, common words per row."""

import pytest

from backend.marketplace import search, selectors
from backend.marketplace.models import SessionSearchTerm
from tests.backend.marketplace.factories import a_session

pytestmark = pytest.mark.django_db


def titles(**filters):
    return [s.title for s in selectors.sessions_search(**filters)]


def test_prefixes_and_all_words_must_match(mentor, domains):
    a_session(mentor, title="Kubernetes for beginners", hours_ahead=10, topics=["Helm charts"])
    a_session(mentor, title="Kotlin coroutines", hours_ahead=20)
    assert titles(q="kube") == ["Kubernetes for beginners"]
    assert titles(q="k") == ["Kubernetes for beginners", "Kotlin coroutines"]
    assert titles(q="KOTLIN") == ["Kotlin coroutines"]
    assert titles(q="helm kube") == ["Kubernetes for beginners"]
    assert titles(q="helm kotlin") == []
    assert titles(q="maya") == ["Kubernetes for beginners", "Kotlin coroutines"]  # mentor's name
    assert titles(q="%_") == titles()  # no words: no text filter


def test_index_follows_edits(mentor, domains):
    session = a_session(mentor, title="Old title here")
    session.title = "Brand new name"
    session.save()
    assert set(SessionSearchTerm.objects.filter(session=session).values_list("term", flat=True)) >= {
        "brand",
        "new",
        "name",
    }
    assert not SessionSearchTerm.objects.filter(session=session, term="old").exists()


def test_common_words_take_the_per_row_path(mentor, domains, monkeypatch):
    monkeypatch.setattr(search, "SPARSE_LIMIT", 1)
    a_session(mentor, title="Python basics", hours_ahead=10)
    a_session(mentor, title="Python testing", hours_ahead=20)
    a_session(mentor, title="Rust basics", hours_ahead=30)
    assert titles(q="python") == ["Python basics", "Python testing"]
    assert titles(q="basics python") == ["Python basics"]


def test_a_mentor_rename_reindexes_their_open_sessions(mentor, domains):
    from backend.accounts.services import account_update

    upcoming = a_session(mentor, title="Graph algorithms", hours_ahead=10)
    assert titles(q="priya") == []
    account_update(user=mentor, full_name="Priya Raman")
    assert titles(q="priya") == [upcoming.title]
    assert titles(q="maya") == []  # the old name no longer finds them


def test_unknown_domain_finds_nothing_and_a_word_verdict_is_cached(mentor, domains, django_assert_num_queries):
    a_session(mentor, title="Python basics", hours_ahead=10)
    assert titles(domain="no-such-domain") == []
    with django_assert_num_queries(2):  # the commonness probe, then the search
        assert len(selectors.sessions_search(q="python")) == 1
    with django_assert_num_queries(1):  # the verdict is reused
        assert len(selectors.sessions_search(q="python")) == 1
