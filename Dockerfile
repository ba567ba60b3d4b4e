FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Note: the code stays owned by root, read-only to the user that serves it. No collectstatic:
# WhiteNoise serves the admin and Swagger UI assets from the installed apps (WHITENOISE_USE_FINDERS
# in resee/settings.py, STATIC_ROOT unset). The prometheus-client multiprocess directory exists and
# belongs to that user even without the tmpfs docker-compose.yml mounts over it, because `migrate`
# imports prometheus-client before resee/serve.py would create it.
RUN useradd --create-home resee && install -d -o resee -g resee /tmp/prometheus-multiproc
USER resee
EXPOSE 8000
CMD ["python", "-m", "resee.serve"]
