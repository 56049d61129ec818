"""Column-wise reads (storage/column_reads.py): rows put in id order column by column, and the
read-ahead thread that lets the reader process run while this one types the batches."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from storage.column_reads import EncodedText, collect_batches, in_key_order, read_ahead


def test_rows_in_storage_order_come_back_in_id_order_in_every_column() -> None:
    columns = {
        "answer_id": np.array([3, 1, 4, 2, 5]),
        "value": EncodedText(np.array([0, 1, -1, 1, 0], dtype=np.int32), np.array(["c", "a"], dtype=object)),
        "note": ("three", "one", "four", "two", "five"),
    }
    ordered = in_key_order(columns, "answer_id")
    assert ordered["answer_id"].tolist() == [1, 2, 3, 4, 5]
    text = ordered["value"]
    assert [text.values[code] if code >= 0 else None for code in text.codes] == ["a", "a", "c", None, "c"]
    assert list(ordered["note"]) == ["one", "two", "three", "four", "five"]


def test_rows_already_in_order_are_left_as_they_are() -> None:
    ids = np.array([1, 2, 5])
    columns = {"answer_id": ids, "value": ("a", "b", "c")}
    assert in_key_order(columns, "answer_id")["answer_id"] is ids
    assert in_key_order({"answer_id": ()}, "answer_id") == {"answer_id": ()}


def test_the_read_ahead_gives_every_batch_in_order_and_hands_on_the_readers_error() -> None:
    assert list(read_ahead(iter(range(100)), depth=3)) == list(range(100))

    def failing():
        yield 1
        raise OSError("the reader process stopped")

    seen = []
    with pytest.raises(OSError, match="the reader process stopped"):
        for item in read_ahead(failing(), depth=2):
            seen.append(item)
    assert seen == [1]


def test_a_consumer_that_stops_early_stops_the_read_ahead() -> None:
    produced = []

    def endless():
        number = 0
        while True:
            produced.append(number)
            yield number
            number += 1

    stream = read_ahead(endless(), depth=2)
    assert [next(stream) for _ in range(5)] == [0, 1, 2, 3, 4]
    stream.close()  # joins the thread: it must notice and stop
    count = len(produced)
    assert count <= 5 + 2 + 2  # what was taken, the queue, and the one in hand


def test_batches_are_collected_into_typed_columns_with_one_dictionary_per_text_column() -> None:
    schema = pa.schema([("answer_id", pa.int64()), ("value", pa.string())])
    batches = [pa.record_batch([pa.array([1, 2]), pa.array(["x", None])], schema=schema),
               pa.record_batch([pa.array([3]), pa.array(["y"])], schema=schema),
               pa.record_batch([pa.array([4, 5]), pa.array(["x", "y"])], schema=schema)]
    columns = collect_batches(pa.RecordBatchReader.from_batches(schema, batches))
    assert columns["answer_id"].tolist() == [1, 2, 3, 4, 5]
    text = columns["value"]
    assert [text.values[code] if code >= 0 else None for code in text.codes] == ["x", None, "y", "x", "y"]
    assert sorted(text.values.tolist()) == ["x", "y"]
