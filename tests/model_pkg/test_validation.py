"""The shared validator accepts exactly the contract's inputs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from model_pkg import contract
from model_pkg.validation import InputError, validate_inputs

GOOD_NOISE = np.zeros((3, contract.NOISE_DIM), np.float32)


def test_valid_inputs_come_back_in_contract_dtypes():
    label, noise = validate_inputs([0, 9, 4], GOOD_NOISE.astype(np.float64))
    assert label.dtype == np.int32 and noise.dtype == np.float32
    assert label.tolist() == [0, 9, 4] and noise.shape == (3, 100)


@pytest.mark.parametrize("label, noise, name, fragment", [
    ([-1, 0, 1], GOOD_NOISE, "label", "got -1 at index 0"),
    ([0, 10, 1], GOOD_NOISE, "label", "got 10 at index 1"),
    (np.array([0, 1, 2**31 - 1], np.int64), GOOD_NOISE, "label", "got 2147483647"),
    (np.array([2**32, 1, 2], np.int64), GOOD_NOISE, "label", "got 4294967296"),
    ([0.0, 1.0, 2.0], GOOD_NOISE, "label", "dtype float64"),
    (["1", "2", "3"], GOOD_NOISE, "label", "dtype <U1"),
    ([True, False, True], GOOD_NOISE, "label", "dtype bool"),
    ([[1, 2, 3]], GOOD_NOISE, "label", "shape [1, 3]"),
    ([], np.zeros((0, 100), np.float32), "label", "N = 0"),
    ([1, 2, 3], GOOD_NOISE[:, :99], "noise", "shape [3, 99]"),
    ([1, 2, 3], np.zeros((3, 101), np.float32), "noise", "shape [3, 101]"),
    ([1, 2, 3], GOOD_NOISE[:, 0], "noise", "shape [3]"),
    ([1, 2], GOOD_NOISE, "noise", "for N = 2"),
    ([1, 2, 3], np.zeros((3, 100), np.int32), "noise", "dtype int32"),
    ([1, 2, 3], np.full((3, 100), np.nan, np.float32), "noise", "non-finite value in row 0"),
    ([1, 2, 3], np.full((3, 100), 1e300), "noise", "non-finite"),
])
def test_bad_inputs_name_the_input_and_the_rule(label, noise, name, fragment):
    with pytest.raises(InputError) as err:
        validate_inputs(label, noise)
    assert err.value.input_name == name
    assert str(err.value).startswith(f"{name}: must be") or "N must be" in str(err.value)
    assert fragment in str(err.value)


def test_max_batch():
    with pytest.raises(InputError, match="label: batch size N must be <= 2"):
        validate_inputs([1, 2, 3], GOOD_NOISE, max_batch=2)


def test_ragged_input_is_refused():
    with pytest.raises(InputError, match="noise: must be a rectangular numeric array"):
        validate_inputs([1, 2], [[0.0] * 100, [0.0] * 99])


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 6), data=st.data())
def test_accepts_exactly_contract_inputs(n, data):
    label = data.draw(hnp.arrays(st.sampled_from([np.int8, np.int32, np.int64, np.uint8]),
                                 st.one_of(st.just((n,)), hnp.array_shapes(max_dims=2,
                                                                           max_side=6))))
    noise = data.draw(hnp.arrays(st.sampled_from([np.float32, np.float64]),
                                 st.sampled_from([(n, 100), (n, 99), (n + 1, 100), (n,)]),
                                 elements=st.floats(allow_nan=True, allow_infinity=True,
                                                    width=32)))
    valid = (label.ndim == 1 and label.shape[0] >= 1 and label.size > 0
             and bool(np.all((label >= 0) & (label <= 9)))
             and noise.shape == (label.shape[0], 100)
             and bool(np.all(np.isfinite(noise))))
    try:
        out_label, out_noise = validate_inputs(label, noise)
    except InputError:
        assert not valid
    else:
        assert valid
        np.testing.assert_array_equal(out_label, label)
        np.testing.assert_array_equal(out_noise, noise.astype(np.float32))
