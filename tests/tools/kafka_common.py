"""What the independent Kafka tools in tests/tools share: quiet librdkafka logging."""
import logging
import re
import sys


class OnceFilter(logging.Filter):
    """Lets each distinct client log message through once (librdkafka repeats
    connection failures every few milliseconds)."""

    def __init__(self):
        super().__init__()
        self.seen = set()

    def filter(self, record):
        text = record.getMessage()
        # Drop the timestamp-free prefix differences; keep the text itself.
        key = re.sub(r"\d+ms", "", text)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def client_logger(name):
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(name + ": librdkafka: %(message)s"))
        handler.addFilter(OnceFilter())
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    return logger
