using HomeUnit.Mqtt;
using HomeUnit.Tests.Infrastructure;

namespace HomeUnit.Tests.Link;

/// <summary>Link settings are refused with the key and what is wrong; plain TCP only where design §6 allows it.</summary>
public sealed class MqttOptionsTests : IDisposable
{
    private readonly TempDirectory directory = new();

    private MqttOptions WithTls()
    {
        foreach (var name in new[] { "ca.pem", "unit.pem", "unit.key" })
        {
            File.WriteAllText(directory.Combine(name), "");
        }
        return new MqttOptions { Host = "broker.example", CaFile = directory.Combine("ca.pem"), CertFile = directory.Combine("unit.pem"), KeyFile = directory.Combine("unit.key") };
    }

    [Fact]
    public void Complete_mtls_settings_are_valid_and_use_port_8883()
    {
        var options = WithTls();

        Assert.Empty(options.Validate());
        Assert.Equal(8883, options.EffectivePort);
    }

    [Fact]
    public void Several_brokers_are_used_in_order_with_the_default_port_where_none_is_given()
    {
        var options = WithTls();
        options.Brokers = ["mqtt-a.central.example", "mqtt-b.supplier.example:18883"];

        Assert.Empty(options.Validate());
        Assert.Equal([new BrokerEndpoint("mqtt-a.central.example", 8883), new BrokerEndpoint("mqtt-b.supplier.example", 18883)], options.BrokerList);
        Assert.Equal((60, 60), (options.FailoverSeconds, options.ReturnAfterSeconds));
    }

    [Fact]
    public void A_bad_or_repeated_broker_and_a_failover_time_out_of_range_are_named()
    {
        var options = WithTls();
        options.Brokers = ["mqtt-a:8883", "mqtt-a", "mqtt-b:99999", " ", "mqtts://mqtt-c:8883", "fd00::1", "10.0.0.7:8883"];
        options.FailoverSeconds = 1;

        var problems = options.Validate();

        Assert.Contains("Mqtt:Brokers:1: mqtt-a:8883 is listed twice", problems);
        Assert.Contains(problems, p => p.StartsWith("Mqtt:Brokers:2: 'mqtt-b:99999' is not host or host:port", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Mqtt:Brokers:3:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Mqtt:Brokers:4: 'mqtts://mqtt-c:8883' is not host or host:port", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Mqtt:Brokers:5: 'fd00::1' is not host or host:port", StringComparison.Ordinal));
        Assert.DoesNotContain(problems, p => p.StartsWith("Mqtt:Brokers:6:", StringComparison.Ordinal));
        Assert.Contains("Mqtt:FailoverSeconds: must be between 5 and 3600 (was 1)", problems);
    }

    [Fact]
    public void Plain_tcp_is_refused_unless_explicitly_allowed()
    {
        var plain = new MqttOptions();

        Assert.Equal(
            ["Mqtt:CaFile: mTLS is required (set Mqtt:CaFile, Mqtt:CertFile and Mqtt:KeyFile); plain TCP is allowed only with --simulate or Mqtt:AllowInsecure=true"],
            plain.Validate());
        plain.AllowInsecure = true;
        Assert.Empty(plain.Validate());
        Assert.Equal(1883, plain.EffectivePort);
    }

    [Fact]
    public void Partial_tls_settings_name_each_missing_or_absent_file()
    {
        var options = WithTls();
        options.KeyFile = null;
        options.CertFile = directory.Combine("missing.pem");

        var problems = options.Validate();

        Assert.Contains($"Mqtt:CertFile: file not found: {directory.Combine("missing.pem")}", problems);
        Assert.Contains(problems, p => p.StartsWith("Mqtt:KeyFile: is required when any of", StringComparison.Ordinal));
        Assert.Equal(2, problems.Count);
    }

    [Theory]
    [InlineData(nameof(MqttOptions.Port), 70000, "Mqtt:Port: must be between 1 and 65535, or 0 for the default (was 70000)")]
    [InlineData(nameof(MqttOptions.KeepAliveSeconds), 2, "Mqtt:KeepAliveSeconds: must be between 5 and 65535 (was 2)")]
    [InlineData(nameof(MqttOptions.SessionExpirySeconds), -1, "Mqtt:SessionExpirySeconds: must be between 0 and 2147483647 (was -1)")]
    [InlineData(nameof(MqttOptions.MaxPayloadBytes), 10, "Mqtt:MaxPayloadBytes: must be between 1024 and 16777216 (was 10)")]
    [InlineData(nameof(MqttOptions.OutboxCapacity), 0, "Mqtt:OutboxCapacity: must be between 100 and 10000000 (was 0)")]
    [InlineData(nameof(MqttOptions.ReconnectMaxSeconds), 0, "Mqtt:ReconnectMaxSeconds: must be between 1 and 3600 (was 0)")]
    [InlineData(nameof(MqttOptions.ConnectTimeoutSeconds), 0, "Mqtt:ConnectTimeoutSeconds: must be between 1 and 600 (was 0)")]
    public void Out_of_range_numbers_name_the_key_the_range_and_the_value(string key, int value, string expected)
    {
        var options = WithTls();
        typeof(MqttOptions).GetProperty(key)!.SetValue(options, value);

        Assert.Equal([expected], options.Validate());
    }

    [Fact]
    public void Empty_host_is_refused() =>
        Assert.Equal(["Mqtt:Host: is required"], new MqttOptions { Host = " ", AllowInsecure = true }.Validate());

    public void Dispose() => directory.Dispose();
}
