"""Static websites (``middleware/staticweb.py``): index pages, HTML listings with CSS, error pages,
pseudo-directories, for requests without a token in a public container."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import RunningCloud
from tests.functional.object.helpers import swift_connection

pytestmark = pytest.mark.functional


def test_static_website_index_listing_and_errors(shared_cloud: RunningCloud) -> None:
    conn = swift_connection(shared_cloud)
    url, token = conn.get_auth()
    conn.put_container("site", headers={"X-Container-Read": ".r:*,.rlistings"})
    conn.put_object("site", "index.html", b"<h1>home</h1>", content_type="text/html")
    conn.put_object("site", "docs/a.txt", b"A", content_type="text/plain")
    conn.put_object("site", "404error.html", b"<p>nothing here</p>", content_type="text/html")
    # Without web settings, the anonymous listing is the plain one.
    assert httpx.get(f"{url}/site").text.splitlines() == ["404error.html", "docs/a.txt", "index.html"]
    conn.post_container("site", headers={"X-Container-Meta-Web-Index": "index.html"})
    r = httpx.get(f"{url}/site")
    assert r.status_code == 301 and r.headers["location"].endswith("/site/")
    r = httpx.get(f"{url}/site", follow_redirects=True)
    assert r.status_code == 200 and r.content == b"<h1>home</h1>"
    # With a token, the container is the API's (unless X-Web-Mode).
    assert httpx.get(f"{url}/site", headers={"X-Auth-Token": token}).text.startswith("404error.html")
    r = httpx.get(f"{url}/site/", headers={"X-Auth-Token": token, "X-Web-Mode": "true"})
    assert r.content == b"<h1>home</h1>"
    conn.post_container("site", headers={"X-Container-Meta-Web-Listings": "true",
                                         "X-Container-Meta-Web-Listings-CSS": "style.css",
                                         "X-Container-Meta-Web-Error": "error.html"})
    r = httpx.get(f"{url}/site/docs/")  # no index there: a listing
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<a href="a.txt">a.txt</a>' in r.text and '<link rel="stylesheet" type="text/css" href="../style.css" />' \
        in r.text and '<a href="../">../</a>' in r.text
    r = httpx.get(f"{url}/site/docs")
    assert r.status_code == 301 and r.headers["location"].endswith("/site/docs/")
    r = httpx.get(f"{url}/site/missing.html")
    assert r.status_code == 404 and r.content == b"<p>nothing here</p>"
    assert httpx.get(f"{url}/site/docs/a.txt").content == b"A"
    conn.post_container("site", headers={"X-Container-Meta-Web-Index": ""})
    r = httpx.get(f"{url}/site/")
    assert "index.html" in r.text and "<table" in r.text and "style.css" in r.text


def test_healthcheck_and_crossdomain_under_the_service_path(shared_cloud: RunningCloud) -> None:
    base = f"{shared_cloud.url}/object-store"
    r = httpx.get(f"{base}/healthcheck")
    assert r.status_code == 200 and r.text == "OK"
    r = httpx.get(f"{base}/crossdomain.xml")
    assert r.status_code == 200 and r.text.startswith('<?xml version="1.0"?>\n<!DOCTYPE cross-domain-policy')
    assert '<allow-access-from domain="*" secure="false" />' in r.text
    assert "crossdomain" in httpx.get(f"{base}/info").json()
