"""Stream jobs: the Faust app and the pure, testable pieces its agents wire together."""
