"""A shipped job whose keyed operator fails on chosen events, after its domain step has run
(so the state writes of those events are pending when the exception comes).

    python -m tests.integration.poisoned_job MODULE ID[,ID...] [job arguments ...]

The subclass lives in this script, so PyFlink ships it by value to the Python workers; the
job's own class stays untouched in its module (shipped by reference), and the operator the job
builds is swapped for the subclass as it is handed to `KeyedStream.process`.
"""
import importlib
import sys

from udfs.codec import unframe

OPERATORS = {"jobs.fraud_scoring": ("ScoreTransactions", "CardTransaction", "transaction_id"),
             "jobs.inventory_counts": ("CountStock", "InventoryMovement", "event_id"),
             "jobs.predictive_maintenance": ("MonitorMachine", "SensorReading", "reading_id")}

module_name, poison = sys.argv[1], frozenset(sys.argv[2].split(","))
module = importlib.import_module(module_name)
operator_name, event_type, id_field = OPERATORS[module_name]
shipped = getattr(module, operator_name)


class Poisoned(shipped):
    def on_element(self, value, ctx):
        from jobs.specs import EVENT_TYPES

        outputs = shipped.on_element(self, value, ctx)
        message = EVENT_TYPES[event_type].message_class.FromString(unframe(value[2])[1])
        event_id = getattr(message, id_field)
        if event_id in poison:
            raise RuntimeError(f"injected failure on {event_id}")
        return outputs


def process_poisoned(self, func, output_type=None):
    if type(func) is shipped:
        poisoned = Poisoned.__new__(Poisoned)
        poisoned.__dict__.update(func.__dict__)
        func = poisoned
    return shipped_process(self, func, output_type)


from pyflink.datastream.data_stream import KeyedStream  # noqa: E402

shipped_process = KeyedStream.process
KeyedStream.process = process_poisoned

if __name__ == "__main__":
    sys.exit(module.main(sys.argv[3:]))
