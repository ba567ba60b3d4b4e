from django.contrib import admin

from content.models import Category, Content

admin.site.register(Category, list_display=["name", "slug", "owner"], search_fields=["name", "slug"])
admin.site.register(Content, list_display=["title", "category", "owner", "updated_at"], search_fields=["title"])
