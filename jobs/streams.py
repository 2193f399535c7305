"""Stream plumbing done in the JVM, where PyFlink would add a Python step of its own."""
from __future__ import annotations


def keyed_in_the_jvm(with_key, event_type):
    """A stream of `Row(key, event)` keyed on its first field by the JVM, as PyFlink's `key_by` would
    after a Python operator of its own; the keyed operator receives `event`."""
    from pyflink.common import Types
    from pyflink.datastream import KeyedStream
    from pyflink.java_gateway import get_gateway

    key_selector = get_gateway().jvm.KeyByKeySelector()
    return KeyedStream(with_key._j_data_stream.keyBy(key_selector, Types.ROW([Types.STRING()]).get_java_type_info()),
                       event_type, with_key)


def side_output(stream, tag):
    """A Python operator's side output, straight from the JVM operator.

    PyFlink's `get_side_output` appends a Python identity `map` (`lambda i: i`), which sends
    every side-output record into Python and back once more; the records are already typed
    by the tag, so the JVM stream is used as it is.
    """
    from pyflink.datastream import DataStream

    return DataStream(stream._j_data_stream.getSideOutput(tag.get_java_output_tag()))
