"""resee/env.py: settings from the environment parse cleanly or fail naming the variable."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from resee.env import env_bool, env_choice, env_float, env_int, env_list, env_port, env_str

VAR = "RESEE_TEST_SETTING"


@pytest.fixture(autouse=True)
def unset(monkeypatch):
    monkeypatch.delenv(VAR, raising=False)


def fails_naming_the_variable(parse, *args, **kwargs) -> str:
    with pytest.raises(ImproperlyConfigured) as raised:
        parse(VAR, *args, **kwargs)
    assert VAR in str(raised.value)
    return str(raised.value)


# --- env_str ---------------------------------------------------------------------------------


def test_env_str_returns_the_value_or_the_default(monkeypatch):
    assert env_str(VAR) is None
    assert env_str(VAR, "fallback") == "fallback"
    monkeypatch.setenv(VAR, "value")
    assert env_str(VAR, "fallback") == "value"


# --- env_bool --------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "Yes", "on", " true "])
def test_env_bool_reads_true_spellings(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    assert env_bool(VAR, False) is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "NO", "off", "", "  "])
def test_env_bool_reads_false_spellings(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    assert env_bool(VAR, True) is False


@pytest.mark.parametrize("default", [True, False])
def test_env_bool_unset_gives_the_default(default):
    assert env_bool(VAR, default) is default


@pytest.mark.parametrize("raw", ["maybe", "2", "y", "enabled", "truee"])
def test_env_bool_refuses_anything_else_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    assert repr(raw) in fails_naming_the_variable(env_bool)


# --- env_int ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "value"), [("42", 42), ("0", 0), (" 7 ", 7), ("+3", 3)])
def test_env_int_parses_integers(monkeypatch, raw, value):
    monkeypatch.setenv(VAR, raw)
    assert env_int(VAR, 99) == value


def test_env_int_unset_gives_the_default():
    assert env_int(VAR, 99) == 99


@pytest.mark.parametrize("raw", ["", "abc", "4.2", "1e3", "12abc"])
def test_env_int_refuses_a_non_integer_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    fails_naming_the_variable(env_int, 99)


def test_env_int_refuses_a_negative_number_by_default(monkeypatch):
    monkeypatch.setenv(VAR, "-1")
    fails_naming_the_variable(env_int, 99)


def test_env_int_enforces_the_given_minimum(monkeypatch):
    monkeypatch.setenv(VAR, "0")
    assert ">= 1" in fails_naming_the_variable(env_int, 3, minimum=1)
    monkeypatch.setenv(VAR, "1")
    assert env_int(VAR, 3, minimum=1) == 1


# --- env_float -------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "value"), [("0.25", 0.25), ("2", 2.0), (" 1.5 ", 1.5), ("1e-3", 0.001)])
def test_env_float_parses_positive_numbers(monkeypatch, raw, value):
    monkeypatch.setenv(VAR, raw)
    assert env_float(VAR, 9.0) == value


def test_env_float_unset_gives_the_default():
    assert env_float(VAR, 0.1) == 0.1


@pytest.mark.parametrize("raw", ["", "fast", "0,5", "1.2.3"])
def test_env_float_refuses_a_non_number_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    fails_naming_the_variable(env_float, 0.1)


@pytest.mark.parametrize("raw", ["0", "0.0", "-0.5"])
def test_env_float_refuses_zero_and_negative_numbers(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    assert "positive" in fails_naming_the_variable(env_float, 0.1)


@pytest.mark.parametrize("raw", ["nan", "inf", "Infinity"])
def test_env_float_refuses_nan_and_infinity(monkeypatch, raw):
    # These parse as floats but make every socket timeout fail later (settimeout raises
    # ValueError for NaN, OverflowError for infinity): exactly what env.py promises to catch.
    monkeypatch.setenv(VAR, raw)
    fails_naming_the_variable(env_float, 0.1)


# --- env_list --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("a", ["a"]),
        ("a,b,c", ["a", "b", "c"]),
        (" a , b ,c ", ["a", "b", "c"]),
        ("a,,b,", ["a", "b"]),
        ("example.com,[::1]", ["example.com", "[::1]"]),
    ],
)
def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch, raw, value):
    monkeypatch.setenv(VAR, raw)
    assert env_list(VAR, ["default"]) == value


def test_env_list_unset_gives_the_default():
    assert env_list(VAR, ["x", "y"]) == ["x", "y"]


@pytest.mark.parametrize("raw", ["", " , ,"])
def test_env_list_set_to_nothing_is_an_empty_list_not_the_default(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    assert env_list(VAR, ["default"]) == []


# --- env_choice, env_port ----------------------------------------------------------------------


def test_env_choice_reads_a_listed_value_in_any_case_and_defaults(monkeypatch):
    assert env_choice(VAR, "standalone", ("standalone", "cluster")) == "standalone"
    monkeypatch.setenv(VAR, " Cluster ")
    assert env_choice(VAR, "standalone", ("standalone", "cluster")) == "cluster"


def test_env_choice_refuses_an_unlisted_value_naming_the_variable_and_the_choices(monkeypatch):
    monkeypatch.setenv(VAR, "sharded")
    message = fails_naming_the_variable(env_choice, "standalone", ("standalone", "cluster"))
    assert "standalone, cluster" in message


@pytest.mark.parametrize("raw", ["", "0", "65536", "http", "-1"])
def test_env_port_refuses_what_is_not_a_port_naming_the_variable(raw):
    assert "host:port" in fails_naming_the_variable(env_port, raw)


def test_env_port_reads_a_port():
    assert env_port(VAR, "26379") == 26379
