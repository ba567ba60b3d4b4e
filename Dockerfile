FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --create-home resee && chown -R resee /app
USER resee
EXPOSE 8000
CMD ["gunicorn", "resee.wsgi:application", "-c", "deploy/gunicorn.conf.py"]
