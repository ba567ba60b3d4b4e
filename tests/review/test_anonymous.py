import pytest

from tests.helpers import make_card, schedule_of


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/api/review/today/"),
        ("post", "/api/review/complete/"),
        ("get", "/api/review/schedules/"),
        ("get", "/api/review/schedules/{schedule}/"),
        ("patch", "/api/review/schedules/{schedule}/"),
        ("get", "/api/review/history/"),
        ("get", "/api/review/leeches/"),
        ("get", "/api/analytics/stats/"),
    ],
)
def test_review_and_analytics_endpoints_require_a_login(anon, make_user, method, url):
    card = make_card(make_user("carol"))

    response = getattr(anon, method)(url.format(schedule=schedule_of(card).id), {})

    assert response.status_code == 401
