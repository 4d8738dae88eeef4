"""OAuth1 delegation (OS-OAUTH1) with the real clients: keystoneclient's oauth1 managers for the
token dance, keystoneauth's v3oauth1 plugin to authenticate, raw HTTP for the rules around it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.extras import oauth1 as ka_oauth1
from keystoneauth1.identity import v3
from keystoneclient.v3 import client as ks_client

from tests.conftest import RunningCloud
from tests.functional.identity.keystone import Keystone

pytestmark = pytest.mark.functional


def _client(cloud: RunningCloud, user: str, password: str, project_id: str) -> Any:
    auth = v3.Password(auth_url=cloud.auth_url + "/v3", username=user, password=password,
                       user_domain_id="default", project_id=project_id)
    return ks_client.Client(session=ks_session.Session(auth=auth))


def test_oauth1_delegation(cloud: RunningCloud, keystone: Keystone) -> None:
    project, user, password = keystone.new_member("oauth")
    consumer = keystone.create("/OS-OAUTH1/consumers", "consumer", {"description": "ci"})
    key, secret = consumer["id"], consumer["secret"]
    ks = _client(cloud, user["name"], password, project["id"])

    # 1. The consumer asks for a request token; 2. the user authorizes it with a role.
    request_token = ks.oauth1.request_tokens.create(key, secret, project["id"])
    assert len(request_token.key) == 32 and request_token.secret
    verifier = ks.oauth1.request_tokens.authorize(request_token.key, [keystone.role_id("reader")]).oauth_verifier
    assert len(verifier) == 8
    # 3. Request token and verifier buy an access token; the request token is then used up.
    access = ks.oauth1.access_tokens.create(key, secret, request_token.key, request_token.secret, verifier)
    with pytest.raises(Exception, match=r"404|401|Could not find"):
        ks.oauth1.access_tokens.create(key, secret, request_token.key, request_token.secret, verifier)

    # 4. keystoneauth's oauth1 plugin gets a token for the user, on the project, with only that role.
    plugin = ka_oauth1.V3OAuth1(cloud.auth_url + "/v3", key, secret, access.key, access.secret)
    token = ks_session.Session(auth=plugin).get_token()
    assert token is not None
    body = keystone.get("/auth/tokens", headers={"X-Subject-Token": token}).json()["token"]
    assert body["methods"] == ["oauth1"] and body["user"]["id"] == user["id"]
    assert body["project"]["id"] == project["id"]
    assert [r["name"] for r in body["roles"]] == ["reader"]
    assert body["OS-OAUTH1"] == {"access_token_id": access.key, "consumer_id": key}
    # An OAuth token cannot mint another token.
    rescope = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}}}}
    assert keystone.authenticate(rescope).status_code == 403

    # The user sees and revokes the access token; its tokens die at once.
    user_token = keystone.token(user["name"], password, project=project["name"])
    listed = keystone.get(f"/users/{user['id']}/OS-OAUTH1/access_tokens", user_token).json()["access_tokens"]
    assert [t["id"] for t in listed] == [access.key]
    roles = keystone.get(f"/users/{user['id']}/OS-OAUTH1/access_tokens/{access.key}/roles", user_token)
    assert [r["name"] for r in roles.json()["roles"]] == ["reader"]
    other_project, other, other_password = keystone.new_member("oauth-other")
    stranger = keystone.token(other["name"], other_password, project=other_project["name"])
    assert keystone.get(f"/users/{user['id']}/OS-OAUTH1/access_tokens", stranger).status_code == 403
    assert keystone.request("DELETE", f"/users/{user['id']}/OS-OAUTH1/access_tokens/{access.key}",
                            user_token).status_code == 204
    assert keystone.get("/auth/tokens", headers={"X-Subject-Token": token}).status_code == 404
    with pytest.raises(Exception, match="401"):
        ks_session.Session(auth=ka_oauth1.V3OAuth1(cloud.auth_url + "/v3", key, secret, access.key,
                                                   access.secret)).get_token()
    # None of the secrets reached the server log.
    log = (cloud.data_dir / "logs" / "litestack.log").read_text()
    for value in (secret, request_token.secret, access.secret, verifier, token, password):
        assert value not in log


def test_oauth1_refusals(cloud: RunningCloud, keystone: Keystone) -> None:
    project, user, password = keystone.new_member("oauth-bad")
    consumer = keystone.create("/OS-OAUTH1/consumers", "consumer", {"description": "ci"})
    key, secret = consumer["id"], consumer["secret"]
    ks = _client(cloud, user["name"], password, project["id"])

    # A wrong consumer secret is a bad signature; an unsigned request is refused.
    with pytest.raises(Exception, match="401"):
        ks.oauth1.request_tokens.create(key, "not-the-secret", project["id"])
    r = keystone.http.post("/v3/OS-OAUTH1/request_token", headers={"Requested-Project-Id": project["id"]})
    assert r.status_code == 400
    r = keystone.http.post("/v3/OS-OAUTH1/request_token", headers={
        "Requested-Project-Id": project["id"], "Authorization": 'OAuth oauth_consumer_key="zzz", garbage'})
    assert r.status_code in (400, 401)

    # The user may only delegate roles they hold; a token from a delegation may not authorize.
    request_token = ks.oauth1.request_tokens.create(key, secret, project["id"])
    with pytest.raises(Exception, match="401"):
        ks.oauth1.request_tokens.authorize(request_token.key, [keystone.role_id("admin")])
    r = keystone.request("PUT", f"/OS-OAUTH1/authorize/{uuid.uuid4().hex}",
                         keystone.token(user["name"], password, project=project["name"]),
                         json={"roles": [{"name": "reader"}]})
    assert r.status_code == 404
    verifier = ks.oauth1.request_tokens.authorize(request_token.key, [keystone.role_id("member")]).oauth_verifier
    # The wrong verifier buys nothing.
    wrong = "A" * 8 if verifier != "A" * 8 else "B" * 8
    with pytest.raises(Exception, match="401"):
        ks.oauth1.access_tokens.create(key, secret, request_token.key, request_token.secret, wrong)

    # Deleting the consumer revokes what it got.
    access = ks.oauth1.access_tokens.create(key, secret, request_token.key, request_token.secret, verifier)
    token = ks_session.Session(auth=ka_oauth1.V3OAuth1(cloud.auth_url + "/v3", key, secret, access.key,
                                                       access.secret)).get_token()
    assert keystone.get("/auth/tokens", headers={"X-Subject-Token": token}).status_code == 200
    assert keystone.request("DELETE", f"/OS-OAUTH1/consumers/{key}").status_code == 204
    assert keystone.get("/auth/tokens", headers={"X-Subject-Token": token}).status_code == 404


def test_oauth1_replayed_request_is_refused(cloud: RunningCloud, keystone: Keystone) -> None:
    from oauthlib import oauth1

    project, _, _ = keystone.new_member("oauth-replay")
    consumer = keystone.create("/OS-OAUTH1/consumers", "consumer", {"description": "ci"})
    url = f"{cloud.auth_url}/v3/OS-OAUTH1/request_token"
    client = oauth1.Client(consumer["id"], client_secret=consumer["secret"], signature_method=oauth1.SIGNATURE_HMAC,
                           callback_uri="oob")
    _, headers, _ = client.sign(url, http_method="POST")
    headers = {**headers, "Requested-Project-Id": project["id"]}
    first = keystone.http.post(url, headers=headers)
    assert first.status_code == 201, first.text
    assert first.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert "oauth_token=" in first.text and "oauth_token_secret=" in first.text
    assert keystone.http.post(url, headers=headers).status_code == 401  # same nonce and timestamp
