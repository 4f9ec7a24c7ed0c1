"""Deployment accounts (services/domain/registry/deploy_accounts.py): the registry account each
deployed replica gets, confined to its project, checked by the edge's token issuer."""

from __future__ import annotations

import pytest

from api_edge.auth import AuthError
from api_edge.registry_tokens import RegistryAccount, RegistryTokens
from services.domain.registry.deploy_accounts import deploy_account_project, deploy_credentials

SECRET = b"k" * 32


def test_the_derived_password_logs_in_and_the_token_acts_on_its_project_only():
    tokens = RegistryTokens([], SECRET, clock=lambda: 1_800_000_000.0)
    name, password = deploy_credentials(SECRET, "shop")
    assert name == "deploy-shop"
    principal = tokens.verify(tokens.login(name, password))
    assert principal.projects == ["shop"]


def test_a_wrong_password_another_projects_password_or_another_secret_is_refused():
    tokens = RegistryTokens([], SECRET)
    other_project = deploy_credentials(SECRET, "other")[1]
    other_secret = deploy_credentials(b"x" * 32, "shop")[1]
    for password in ("nope", other_project, other_secret):
        with pytest.raises(AuthError) as exc:
            tokens.login("deploy-shop", password, client=password)
        assert (exc.value.status, exc.value.code) == (401, "401202")


def test_a_configured_account_of_the_same_name_takes_precedence():
    tokens = RegistryTokens([RegistryAccount(name="deploy-shop", password="configured-pw-1", projects=["*"])], SECRET)
    assert tokens.verify(tokens.login("deploy-shop", "configured-pw-1")).projects == ["*"]
    with pytest.raises(AuthError):
        tokens.login("deploy-shop", deploy_credentials(SECRET, "shop")[1], client="c2")


@pytest.mark.parametrize("name", ["deploy-", "deploy-a.b", "deploy-a b", "root", "deploy-" + "x" * 65])
def test_names_that_are_not_deployment_accounts(name):
    assert deploy_account_project(name) is None
