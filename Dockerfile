FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY llmpulse ./llmpulse
COPY benchmarks ./benchmarks
RUN pip install --no-cache-dir . && useradd --system llmpulse
USER llmpulse
ENTRYPOINT []
