"""Cache keys: `generate_cache_key` is deterministic, injective and glob-safe; long keys are hashed;
a user's keys share one Redis Cluster hash tag; the release is part of every key."""

import re
from datetime import date

import pytest
from django.conf import settings
from django.test import override_settings
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from redis.crc import key_slot

from utils.cache_utils import generate_cache_key, store
from utils.cache_utils.conf import ENTRY_FORMAT, NAMESPACES, TODAY

PREFIX = "{u42}:content"
GLOB_CHARACTERS = set("*?[]{}")
HASHED = re.compile(r"#[0-9a-f]{40}")

# Text meant to break a key: separators, glob and hash-tag characters, the escape and marker
# characters themselves, whitespace, control characters, non-ASCII; mixed with anything else.
NASTY = list(":*?[]{}%=!#\\^ \t\n\r\x00\x01\x1b\x1f\x7f\x85\xa0\u2028\u200béß中😀") + ["!n", "!t", "!f", "!e", "%2A"]
texts = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=3)), max_size=5).map("".join)
# A small pool of names, so that generated dicts often share some and differ in others.
names = st.sampled_from(["a", "b", "q", "x_1", "_", "page", "search", "date", "category_slug"])
string_values = st.one_of(st.none(), st.booleans(), texts)
scalar_values = st.one_of(st.none(), st.booleans(), st.integers(), st.dates(), texts)

few = hypothesis_settings(max_examples=200, deadline=None)


def identity(value):
    """Tells values apart the way a cache must: 1, True and "1" are three different answers."""
    return (type(value).__name__, value)


def params_identity(params: dict):
    return tuple(sorted((name, identity(value)) for name, value in params.items()))


def variable_part(key: str, prefix: str = PREFIX) -> str:
    assert key.startswith(prefix + ":"), key
    return key[len(prefix) + 1 :]


def assert_glob_safe(text: str) -> None:
    bad = [c for c in text if c in GLOB_CHARACTERS or c.isspace() or not c.isascii() or not c.isprintable()]
    assert bad == [], f"{text!r} holds {bad!r}"


def with_release(release: str):
    return override_settings(RESEE_CACHE={**settings.RESEE_CACHE, "RELEASE": release})


# --- generate_cache_key: layout ------------------------------------------------------------------


def test_keyword_arguments_are_sorted_and_joined_with_colons():
    key = generate_cache_key("stats", "x", zeta=1, alpha="a", mid=None)
    assert key == "stats:x:alpha=a:mid=!n:zeta=1"


def test_a_prefix_without_parameters_is_the_key():
    assert generate_cache_key("stats") == "stats"


def test_the_order_keyword_arguments_are_given_in_does_not_change_the_key():
    assert generate_cache_key(PREFIX, page=2, search="a b") == generate_cache_key(PREFIX, search="a b", page=2)


@given(params=st.dictionaries(names, scalar_values, max_size=5))
@few
def test_equal_parameters_give_equal_keys(params):
    reordered = dict(reversed(list(params.items())))
    assert (
        generate_cache_key(PREFIX, **params)
        == generate_cache_key(PREFIX, **dict(params))
        == generate_cache_key(PREFIX, **reordered)
    )


@pytest.mark.parametrize("value", [1.5, ["a"], ("a",), {"a": 1}, b"bytes", object()])
def test_a_value_of_an_unsupported_type_raises_type_error(value):
    with pytest.raises(TypeError):
        generate_cache_key(PREFIX, search=value)
    with pytest.raises(TypeError):
        generate_cache_key(PREFIX, value)


# --- generate_cache_key: injectivity ---------------------------------------------------------------


@given(st.lists(st.dictionaries(names, string_values, max_size=3), unique_by=params_identity, min_size=2, max_size=5))
@example([{"a": "x:b=y"}, {"a": "x", "b": "y"}])
@example([{"a": ""}, {"a": "!e"}, {"a": None}, {"a": "!n"}, {"a": True}, {"a": "!t"}, {"a": False}, {}])
@example([{"q": "a*"}, {"q": "a%2A"}, {"q": "a\x00"}, {"q": "a"}])
@few
def test_different_text_parameters_never_share_a_key(param_sets):
    generated = [generate_cache_key(PREFIX, **params) for params in param_sets]
    assert len(set(generated)) == len(param_sets), dict(zip(generated, map(repr, param_sets), strict=True))


@given(st.lists(st.tuples(st.lists(string_values, max_size=3), st.dictionaries(names, string_values, max_size=3))
                .map(lambda pair: (tuple(pair[0]), pair[1])),
                unique_by=lambda pair: (tuple(map(identity, pair[0])), params_identity(pair[1])),
                min_size=2, max_size=5))  # fmt: skip
@example([(("a=b",), {}), ((), {"a": "b"}), (("a", "b"), {}), (("a:b",), {}), (("a",), {"b": None})])
@few
def test_positional_and_keyword_parts_never_run_into_each_other(calls):
    generated = [generate_cache_key(PREFIX, *args, **kwargs) for args, kwargs in calls]
    assert len(set(generated)) == len(calls), dict(zip(generated, map(repr, calls), strict=True))


@given(st.lists(st.dictionaries(names, scalar_values, max_size=3), unique_by=params_identity, min_size=2, max_size=5))
@example([{"page": 1}, {"page": "1"}])
@example([{"date": date(2024, 5, 15)}, {"date": "2024-05-15"}])
@example([{"a": 5}, {"a": "5"}, {"a": "!s5"}, {"a": "05"}, {"a": 0}, {"a": "-0"}, {"a": "0999-01-01"}])
@few
def test_different_parameter_dicts_of_any_supported_type_never_share_a_key(param_sets):
    generated = [generate_cache_key(PREFIX, **params) for params in param_sets]
    assert len(set(generated)) == len(param_sets), dict(zip(generated, map(repr, param_sets), strict=True))


@pytest.mark.parametrize(
    ("value", "lookalike"),
    [(1, "1"), (-7, "-7"), (date(2024, 5, 15), "2024-05-15")],
    ids=["int", "negative-int", "date"],
)
def test_a_value_and_the_string_that_spells_it_give_different_keys(value, lookalike):
    assert generate_cache_key(PREFIX, page=value) != generate_cache_key(PREFIX, page=lookalike)


@given(params=st.dictionaries(names, scalar_values, max_size=5), args=st.lists(scalar_values, max_size=3))
@example(params={"search": "* ?[a]{u1}\n\x00é"}, args=["{u7}"])
@few
def test_the_variable_part_never_holds_glob_characters_whitespace_control_characters_or_non_ascii(params, args):
    key = generate_cache_key(PREFIX, *args, **params)
    if key != PREFIX:
        assert_glob_safe(variable_part(key))


# --- generate_cache_key: long keys ------------------------------------------------------------------


def test_a_key_of_exactly_200_characters_is_kept_and_one_of_201_is_hashed():
    kept = generate_cache_key("p", q="a" * 196)
    hashed = generate_cache_key("p", q="a" * 197)
    assert len(kept) == 200 and kept == "p:q=" + "a" * 196
    assert HASHED.fullmatch(variable_part(hashed, "p")), hashed


def test_the_limit_counts_the_encoded_key_not_the_raw_text():
    # 66 stars are 66 characters of text but 198 once percent-encoded.
    assert HASHED.fullmatch(variable_part(generate_cache_key("p", q="*" * 66), "p"))


@given(st.fixed_dictionaries({name: st.text(min_size=1, max_size=80) for name in "abc"}))
@few
def test_long_keys_are_the_prefix_and_a_blake2b_digest_and_stay_within_200_characters(params):
    params["search"] = "x" * 200 + params["a"]
    key = generate_cache_key(PREFIX, **params)
    assert len(key) <= store.MAX_KEY_LENGTH
    assert HASHED.fullmatch(variable_part(key)), key
    assert key == generate_cache_key(PREFIX, **dict(reversed(list(params.items()))))


@given(st.lists(st.text(max_size=30), unique=True, min_size=2, max_size=10))
@few
def test_distinct_long_inputs_keep_distinct_keys(tails):
    # Equal first 250 characters: only the tails differ, well past the 200 kept characters.
    generated = {generate_cache_key(PREFIX, search="s" * 250 + tail) for tail in tails}
    assert len(generated) == len(tails)
    assert all(HASHED.fullmatch(variable_part(key)) for key in generated)


def test_a_hashed_key_never_equals_a_short_one():
    # `#` is percent-encoded in text, so no short key looks like a digest.
    hashed = generate_cache_key(PREFIX, search="s" * 300)
    assert generate_cache_key(PREFIX, variable_part(hashed)) != hashed


# --- user tags, namespace and entry keys --------------------------------------------------------


def test_a_user_tag_is_a_redis_cluster_hash_tag_of_the_user_id():
    assert store.user_tag(42) == "{u42}"
    assert store.user_tag(7) == "{u7}"


def test_namespace_and_entry_keys_sit_under_the_process_prefix_and_the_release():
    expected_prefix = f"{settings.REDIS_KEY_NAMESPACE}:api:{ENTRY_FORMAT}.{settings.RESEE_CACHE['RELEASE']}:"
    assert store.namespace_key(42, TODAY) == expected_prefix + "{u42}:ns:today"
    assert store.entry_key(42, TODAY, {"date": date(2024, 5, 15)}) == expected_prefix + "{u42}:today:date=2024-05-15"


@given(st.lists(st.dictionaries(names, scalar_values, max_size=3), unique_by=params_identity, min_size=2, max_size=5))
@example([{"flag": True}, {"flag": 1}, {"flag": False}, {"flag": 0}])
@few
def test_entry_keys_stay_distinct_for_parameters_that_compare_equal_across_types(param_sets):
    # Note: entry_key memoizes its encoding: True == 1, so the memo must not hand one the other's key.
    for _ in range(2):
        built = [store.entry_key(42, TODAY, params) for params in param_sets]
        assert len(set(built)) == len(param_sets), dict(zip(built, map(repr, param_sets), strict=True))


def slot(key: str) -> int:
    return key_slot(key.encode())


@given(
    user_id=st.integers(min_value=1, max_value=2**63 - 1),
    namespace=st.sampled_from(NAMESPACES),
    params=st.dictionaries(names, scalar_values, max_size=4),
    long=st.booleans(),
)
@example(user_id=42, namespace=TODAY, params={"search": "{u1}"}, long=False)
@few
def test_a_users_namespace_key_and_entry_keys_share_one_cluster_slot(user_id, namespace, params, long):
    if long:
        params = {**params, "search": "{u1}" * 100}
    namespace_key, entry_key = store.namespace_key(user_id, namespace), store.entry_key(user_id, namespace, params)
    assert slot(namespace_key) == slot(entry_key) == slot(store.user_tag(user_id))


@pytest.mark.parametrize(("user", "other"), [(42, 4), (42, 420), (4, 42), (1, 11)])
def test_different_users_get_different_keys(user, other):
    params = {"date": date(2024, 5, 15)}
    assert store.namespace_key(user, TODAY) != store.namespace_key(other, TODAY)
    assert store.entry_key(user, TODAY, params) != store.entry_key(other, TODAY, params)
    assert store.user_tag(user) not in store.entry_key(other, TODAY, params)


def test_another_release_changes_every_key():
    params = {"date": date(2024, 5, 15), "category_slug": None}

    def all_keys():
        return [
            store.full_key("anything"),
            *(store.namespace_key(42, namespace) for namespace in NAMESPACES),
            *(store.entry_key(42, namespace, params) for namespace in NAMESPACES),
        ]

    with with_release("1"):
        first = all_keys()
    with with_release("2"):
        second = all_keys()
    assert set(first).isdisjoint(second)
    assert all(":1.2:" in key for key in second)
