import pytest


def test_schema_is_openapi_3_and_lists_every_endpoint(anon):
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {
        "/api/auth/register/",
        "/api/auth/token/",
        "/api/auth/token/refresh/",
        "/api/auth/logout/",
        "/api/auth/me/",
        "/api/auth/password/change/",
        "/api/auth/password/reset/",
        "/api/auth/password/reset/confirm/",
        "/api/content/",
        "/api/content/{id}/",
        "/api/content/categories/",
        "/api/content/categories/{id}/",
        "/api/review/today/",
        "/api/review/complete/",
        "/api/review/schedules/",
        "/api/review/schedules/{id}/",
        "/api/review/history/",
        "/api/review/leeches/",
        "/api/analytics/stats/",
        "/api/health/",
    } <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["jwtAuth"]["scheme"] == "bearer"
    assert set(schema["paths"]["/api/auth/me/"]) == {"get", "patch", "delete"}
    assert "requestBody" in schema["paths"]["/api/auth/me/"]["delete"]  # the password that confirms it


def test_docs_page_loads_its_assets_locally_not_from_a_cdn(anon):
    response = anon.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "unpkg" not in html
    assets = [part.split('"')[0] for part in html.split('src="')[1:]] + [
        part.split('"')[0] for part in html.split('href="')[1:]
    ]
    local = [url for url in assets if url.startswith("/static/")]
    assert local, "the page should reference assets under /static/"
    for url in local:
        assert anon.get(url).status_code == 200, url


@pytest.mark.parametrize("path", ["/api/review/today/", "/api/analytics/stats/", "/api/content/"])
def test_every_data_endpoint_requires_a_token(anon, path):
    response = anon.get(path)
    assert response.status_code == 401
    assert "detail" in response.json()


def test_every_request_body_says_it_takes_no_other_fields(anon):
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    bodies = [
        media["schema"]["$ref"].rsplit("/", 1)[-1]
        for item in schema["paths"].values()
        for operation in item.values()
        for media in operation.get("requestBody", {}).get("content", {}).values()
    ]
    assert "ContentWriteRequest" in bodies and "ImportUploadRequest" in bodies
    assert {name: components[name].get("additionalProperties") for name in bodies} == dict.fromkeys(bodies, False)


def test_the_token_call_still_documents_the_pair_it_answers(anon):
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    answer = schema["paths"]["/api/auth/token/"]["post"]["responses"]["200"]["content"]["application/json"]
    assert set(schema["components"]["schemas"][answer["schema"]["$ref"].rsplit("/", 1)[-1]]["properties"]) >= {
        "access",
        "refresh",
    }
