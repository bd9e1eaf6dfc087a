"""Alerting: rules, the alert lifecycle, the Slack/PagerDuty bridge, and the online detectors.

The anomaly and drift detectors live in :mod:`llmpulse.alerting.detectors`: pure objects that learn each
series online (river's ``learn_one`` / ``score_one`` contract) and round-trip through pickle.
"""
