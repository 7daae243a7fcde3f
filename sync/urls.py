"""/api/sync/: pull (changes since a cursor) and push (a batch of offline mutations)."""

urlpatterns: list = []
