import pytest

from backend.recommendations import serving


@pytest.fixture(autouse=True)
def _fresh_recommendations(settings, tmp_path):
    settings.RECOMMENDATIONS_DIR = tmp_path / "models"
    settings.RECOMMENDATIONS_RELOAD_SECONDS = 0
    settings.RECOMMENDATIONS_CATALOGUE_SECONDS = 0
    serving.reset()
    yield
    serving.reset()
