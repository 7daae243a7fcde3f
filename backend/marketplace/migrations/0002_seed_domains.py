"""The starting set of teaching domains (real taxonomy, not demo data)."""

from django.db import migrations

DOMAINS = [
    ("programming", "Programming", "code-bracket", 1),
    ("data-science", "Data science & AI", "chart-bar", 2),
    ("design", "Design", "sparkles", 3),
    ("product", "Product management", "squares-2x2", 4),
    ("career", "Careers & interviews", "briefcase", 5),
    ("business", "Business & startups", "rocket-launch", 6),
    ("cloud", "Cloud & DevOps", "globe-alt", 7),
    ("languages", "Languages", "chat-bubble-left-right", 8),
    ("music", "Music", "heart", 9),
    ("exams", "Exams (JEE, GATE, CAT)", "academic-cap", 10),
]


def seed(apps, schema_editor):
    Domain = apps.get_model("marketplace", "Domain")
    for slug, name, icon, position in DOMAINS:
        Domain.objects.update_or_create(slug=slug, defaults={"name": name, "icon": icon, "position": position})


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
