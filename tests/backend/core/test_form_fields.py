"""Form fields as assistive technology meets them: hints are linked to their inputs."""

import re

import pytest

from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_help_text_is_the_description_the_input_points_to(mentor):
    html = client_for(mentor).get("/dashboard/mentor/sessions/new/").content.decode()
    described_by = re.search(r'<input[^>]*name="starts_at"[^>]*aria-describedby="([^"]+)"', html)
    assert described_by, "the start time input names its description"
    assert f'id="{described_by.group(1)}"' in html
    assert re.search(r'<input[^>]*name="starts_at"[^>]*min="\d{4}-\d\d-\d\dT\d\d:\d\d"', html)  # pickers start at now
