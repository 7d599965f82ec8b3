import pytest

from shared.settings import Settings, SettingsError


def test_reads_environment() -> None:
    s = Settings.from_env(
        {
            "HERALD_ENV": "local",
            "GOOGLE_CLOUD_PROJECT": "p1",
            "HERALD_URL_POST_TWEET": "http://127.0.0.1:9000",
            "HERALD_EMAIL_BATCH_SIZE": "25",
            "HERALD_SANDBOX": "true",
        }
    )
    assert s.project_id == "p1"
    assert s.function_url("post_tweet") == "http://127.0.0.1:9000"
    assert s.function_url("dispatch") == "https://europe-west1-p1.cloudfunctions.net/dispatch"
    assert s.email_batch_size == 25
    assert s.sandbox is True
    assert s.queue_id("tweets") == "herald-tweets"


def test_production_refuses_sandbox() -> None:
    with pytest.raises(SettingsError, match="HERALD_SANDBOX"):
        Settings.from_env({"HERALD_ENV": "production", "HERALD_SANDBOX": "1"})


def test_production_refuses_emulators() -> None:
    with pytest.raises(SettingsError, match="emulator"):
        Settings.from_env({"HERALD_ENV": "production", "FIRESTORE_EMULATOR_HOST": "x:1"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HERALD_EMAIL_BATCH_SIZE": "many"}, "integer"),
        ({"HERALD_EMAIL_BATCH_SIZE": "0"}, "between"),
        ({"HERALD_SANDBOX": "perhaps"}, "boolean"),
        ({"HERALD_ENV": "staging"}, "HERALD_ENV"),
        ({"HERALD_DISPATCH_LOOKAHEAD_S": "10"}, "at least 60"),
    ],
)
def test_bad_values_get_clear_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_unknown_queue_and_function() -> None:
    s = Settings()
    with pytest.raises(SettingsError):
        s.queue_id("sms")
    with pytest.raises(SettingsError):
        s.function_url("nope")


def test_recovery_grace_override() -> None:
    from datetime import timedelta

    default = timedelta(minutes=10)
    assert Settings.from_env({}).recovery_grace(default) == default
    s = Settings.from_env({"HERALD_RECOVERY_GRACE_S": "20"})
    assert s.recovery_grace(default) == timedelta(seconds=20)


def test_local_defaults_are_make_devs_ports() -> None:
    """The track URL and CORS origin a process gets without configuration are where
    `make dev` serves track and the admin page."""
    from local.stack import Ports

    ports, settings = Ports.fixed(), Settings()
    assert settings.track_base_url == f"http://127.0.0.1:{ports.functions['track']}"
    assert settings.admin_origin == f"http://127.0.0.1:{ports.admin}"


def test_production_refuses_the_local_track_url_and_origin() -> None:
    https = {"HERALD_ENV": "production", "HERALD_TRACK_URL": "https://t.example"}
    with pytest.raises(SettingsError, match="HERALD_TRACK_URL"):
        Settings.from_env({"HERALD_ENV": "production"})
    with pytest.raises(SettingsError, match="HERALD_ADMIN_ORIGIN"):
        Settings.from_env(https)
    settings = Settings.from_env({**https, "HERALD_ADMIN_ORIGIN": "https://admin.example"})
    assert settings.track_base_url == "https://t.example"
