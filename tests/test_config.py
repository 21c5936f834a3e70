

def test_parse_value_types_command_line_text_by_field():
    import pytest as _pytest

    from rawvision.config import ConfigError, DistillConfig

    assert DistillConfig.parse_value("channels_last", "false") is False  # bool("false") would be True
    assert DistillConfig.parse_value("front_end_lr", "0.001") == 0.001  # an optional float (default None)
    assert DistillConfig.parse_value("front_end_lr", "none") is None
    assert DistillConfig.parse_value("epochs", "3") == 3 and DistillConfig.parse_value("front_end", "ta-isp") == "ta-isp"
    with _pytest.raises(ConfigError, match="epochs: 'x' is not a int"):
        DistillConfig.parse_value("epochs", "x")
    with _pytest.raises(ConfigError, match="unknown configuration key bogus"):
        DistillConfig.parse_value("bogus", "1")
