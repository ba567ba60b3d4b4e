"""Small helpers shared by the content tests: URLs and "create this through the API" shortcuts."""

CATEGORIES = "/api/content/categories/"
CONTENTS = "/api/content/"


def category_url(pk: int) -> str:
    return f"{CATEGORIES}{pk}/"


def content_url(pk: int) -> str:
    return f"{CONTENTS}{pk}/"


def create_category(client, name: str, slug: str | None = None) -> dict:
    payload = {"name": name} if slug is None else {"name": name, "slug": slug}
    response = client.post(CATEGORIES, payload)
    assert response.status_code == 201, response.content
    return response.json()


def create_content(client, title: str = "A card", **fields) -> dict:
    response = client.post(CONTENTS, {"title": title, **fields})
    assert response.status_code == 201, response.content
    return response.json()


def list_contents(client, **params):
    """GET the content list with `params` as the query string (values are URL-encoded)."""
    return client.get(CONTENTS, params)


def listed_titles(client, **params) -> list[str]:
    response = list_contents(client, **params)
    assert response.status_code == 200, response.content
    return [item["title"] for item in response.json()["results"]]


def assert_rejected(response, field: str, status: int = 400) -> None:
    """A JSON error that names `field`."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert field in response.json(), response.json()
