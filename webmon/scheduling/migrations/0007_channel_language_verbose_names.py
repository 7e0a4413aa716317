# Channel.language (the language of its notices) and translatable names and help texts of the fields (issue 14).

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('scheduling', '0006_event_data_quality'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='channel',
            options={'verbose_name': 'notification channel', 'verbose_name_plural': 'notification channels'},
        ),
        migrations.AlterModelOptions(
            name='daemonheartbeat',
            options={'verbose_name': 'daemon heartbeat', 'verbose_name_plural': 'daemon heartbeats'},
        ),
        migrations.AlterModelOptions(
            name='delivery',
            options={'verbose_name': 'delivery', 'verbose_name_plural': 'deliveries'},
        ),
        migrations.AlterModelOptions(
            name='schedule',
            options={'ordering': ['name'], 'verbose_name': 'schedule', 'verbose_name_plural': 'schedules'},
        ),
        migrations.AlterModelOptions(
            name='scheduledrun',
            options={'ordering': ['-logical_time', '-id'], 'verbose_name': 'scheduled run', 'verbose_name_plural': 'scheduled runs'},
        ),
        migrations.AlterModelOptions(
            name='scheduleevent',
            options={'ordering': ['-at', '-id'], 'verbose_name': 'schedule event', 'verbose_name_plural': 'schedule events'},
        ),
        migrations.AddField(
            model_name='channel',
            name='language',
            field=models.CharField(blank=True, choices=[('', 'the default (WEBMON_NOTICE_LANGUAGE)'), ('en', 'English'), ('zh-hant', '繁體中文'), ('zh-hans', '简体中文')], help_text="The language of this channel's notices.", max_length=16, verbose_name='language'),
        ),
        migrations.AlterField(
            model_name='channel',
            name='kind',
            field=models.CharField(choices=[('email', 'Email'), ('webhook', 'Webhook')], max_length=10, verbose_name='kind'),
        ),
        migrations.AlterField(
            model_name='channel',
            name='name',
            field=models.CharField(max_length=100, unique=True, verbose_name='name'),
        ),
        migrations.AlterField(
            model_name='channel',
            name='payload_format',
            field=models.CharField(choices=[('json', 'JSON'), ('slack', 'Slack-compatible'), ('dingtalk', 'DingTalk-compatible')], default='json', max_length=10, verbose_name='payload format'),
        ),
        migrations.AlterField(
            model_name='channel',
            name='target',
            field=models.CharField(help_text='Email addresses (comma-separated) or the webhook URL.', max_length=500, verbose_name='target'),
        ),
        migrations.AlterField(
            model_name='daemonheartbeat',
            name='beat_at',
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name='last beat'),
        ),
        migrations.AlterField(
            model_name='daemonheartbeat',
            name='name',
            field=models.CharField(max_length=200, unique=True, verbose_name='name'),
        ),
        migrations.AlterField(
            model_name='daemonheartbeat',
            name='slots',
            field=models.PositiveIntegerField(default=0, verbose_name='slots'),
        ),
        migrations.AlterField(
            model_name='daemonheartbeat',
            name='started_at',
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name='started at'),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='at',
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name='at'),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='channel',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to='scheduling.channel', verbose_name='channel'),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='error',
            field=models.TextField(blank=True, verbose_name='error'),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='event',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='scheduling.scheduleevent', verbose_name='event'),
        ),
        migrations.AlterField(
            model_name='delivery',
            name='ok',
            field=models.BooleanField(default=False, verbose_name='delivered'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='catchup',
            field=models.CharField(choices=[('none', 'none: skip missed ticks'), ('latest', 'latest: run the newest missed tick'), ('all', 'all: run every missed tick')], default='latest', max_length=10, verbose_name='catch-up'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='channels',
            field=models.ManyToManyField(blank=True, to='scheduling.channel', verbose_name='notification channels'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='crawl',
            field=models.CharField(blank=True, help_text='A crawl spec name (pipelines/crawls/NAME.toml); RunCrawl only.', max_length=200, verbose_name='crawl'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='cron',
            field=models.CharField(blank=True, help_text='5-field cron, e.g. */15 * * * *', max_length=100, verbose_name='cron'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='enabled',
            field=models.BooleanField(default=True, verbose_name='enabled'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='end_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='end at'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='grace_seconds',
            field=models.PositiveIntegerField(default=300, help_text='How long after a tick without a success it is late.', verbose_name='grace (seconds)'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='interval_seconds',
            field=models.PositiveIntegerField(blank=True, help_text='Instead of cron: every N seconds from the start.', null=True, verbose_name='interval (seconds)'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='jitter_seconds',
            field=models.PositiveIntegerField(default=0, help_text='Random delay up to this, per tick.', verbose_name='jitter (seconds)'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='last_success',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='last success'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='last_tick',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='last tick'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='max_active_runs',
            field=models.PositiveIntegerField(default=1, verbose_name='max active runs'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='max_retry_delay_seconds',
            field=models.PositiveIntegerField(default=3600, verbose_name='max retry delay (seconds)'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='name',
            field=models.CharField(max_length=100, unique=True, verbose_name='name'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='next_due',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='next due'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='overlap',
            field=models.CharField(choices=[('skip', 'skip the tick while a run is active'), ('queue', 'queue it until the active run ends'), ('allow', 'allow parallel runs (up to max active runs)')], default='skip', max_length=10, verbose_name='overlap'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='params',
            field=models.JSONField(blank=True, default=dict, help_text='Spec overrides for every run, e.g. {"max_pages": 500, "fetch.delay": 1}.', verbose_name='spec overrides'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='retries',
            field=models.PositiveIntegerField(default=2, verbose_name='retries'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='retry_delay_seconds',
            field=models.PositiveIntegerField(default=60, verbose_name='retry delay (seconds)'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='retry_exponential',
            field=models.BooleanField(default=True, help_text='Double the delay after each failure.', verbose_name='exponential retry delay'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='start_at',
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name='start at'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='state',
            field=models.CharField(choices=[('new', 'new'), ('up', 'up'), ('late', 'late'), ('down', 'down'), ('paused', 'paused')], default='new', editable=False, max_length=10, verbose_name='state'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='task',
            field=models.CharField(default='RunCrawl', help_text="The Luigi task class, as module.Class (a module of luigi.cfg's [workflows] modules), or RunCrawl, BackupDatabase, PruneHistory.", max_length=200, verbose_name='task'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='task_params',
            field=models.JSONField(blank=True, default=dict, help_text='The task\'s Luigi parameters as a JSON object, e.g. {"db": "items"} for BackupDatabase; not the tick (at / date: the daemon sets it). A crawl takes none (its crawl and params fields).', verbose_name='task parameters'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='timeout_seconds',
            field=models.PositiveIntegerField(blank=True, help_text='Kill a run after this long (its process group).', null=True, verbose_name='timeout (seconds)'),
        ),
        migrations.AlterField(
            model_name='schedule',
            name='timezone',
            field=models.CharField(default='UTC', help_text='IANA name the cron is read in.', max_length=64, verbose_name='time zone'),
        ),
        migrations.AlterField(
            model_name='scheduledrun',
            name='attempts',
            field=models.PositiveIntegerField(default=0, verbose_name='attempts'),
        ),
        migrations.AlterField(
            model_name='scheduledrun',
            name='exit_code',
            field=models.IntegerField(blank=True, null=True, verbose_name='exit code'),
        ),
        migrations.AlterField(
            model_name='scheduledrun',
            name='finished_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='finished at'),
        ),
        migrations.AlterField(
            model_name='scheduledrun',
            name='logical_time',
            field=models.DateTimeField(verbose_name='tick'),
        ),
        migrations.AlterField(
            model_name='scheduledrun',
            name='params',
            field=models.JSONField(blank=True, default=dict, verbose_name='spec overrides'),
        ),
        migrations.AlterField(
            model_name='scheduledrun',
            name='reason',
            field=models.TextField(blank=True, verbose_name='reason'),
        ),
        migrations.AlterField(
            model_name='scheduledrun',
            name='schedule',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='scheduling.schedule', verbose_name='schedule'),
        ),
        migrations.AlterField(
            model_name='scheduledrun',
            name='started_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='started at'),
        ),
        migrations.AlterField(
            model_name='scheduledrun',
            name='state',
            field=models.CharField(choices=[('queued', 'queued'), ('running', 'running'), ('success', 'success'), ('failed', 'failed'), ('skipped', 'skipped'), ('timed_out', 'timed out')], default='queued', max_length=10, verbose_name='state'),
        ),
        migrations.AlterField(
            model_name='scheduledrun',
            name='trigger',
            field=models.CharField(choices=[('schedule', 'schedule'), ('manual', 'manual'), ('backfill', 'backfill')], default='schedule', max_length=10, verbose_name='trigger'),
        ),
        migrations.AlterField(
            model_name='scheduleevent',
            name='at',
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name='at'),
        ),
        migrations.AlterField(
            model_name='scheduleevent',
            name='detail',
            field=models.TextField(blank=True, verbose_name='detail'),
        ),
        migrations.AlterField(
            model_name='scheduleevent',
            name='new_state',
            field=models.CharField(max_length=10, verbose_name='new state'),
        ),
        migrations.AlterField(
            model_name='scheduleevent',
            name='notified_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='notified at'),
        ),
        migrations.AlterField(
            model_name='scheduleevent',
            name='old_state',
            field=models.CharField(max_length=10, verbose_name='old state'),
        ),
        migrations.AlterField(
            model_name='scheduleevent',
            name='reason',
            field=models.CharField(max_length=20, verbose_name='reason'),
        ),
        migrations.AlterField(
            model_name='scheduleevent',
            name='run',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='scheduling.scheduledrun', verbose_name='run'),
        ),
        migrations.AlterField(
            model_name='scheduleevent',
            name='schedule',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='scheduling.schedule', verbose_name='schedule'),
        ),
    ]
