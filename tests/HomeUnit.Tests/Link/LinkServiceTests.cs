using HomeUnit.Central;
using HomeUnit.TestSupport;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using HomeUnit.Agent;
using HomeUnit.Agent.Health;
using HomeUnit.Agent.Hosting;
using HomeUnit.Agent.Link;
using HomeUnit.Agent.Grants;
using HomeUnit.Agent.State;
using HomeUnit.Mqtt;
using HomeUnit.Protocol;
using HomeUnit.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace HomeUnit.Tests.Link;

/// <summary>The supervising link service with its real outbox (SQLite) against a real broker.</summary>
public sealed class LinkServiceTests(ITestOutputHelper output) : BrokerTestClass(output)
{
    private const string DeviceId = "unit-a";
    /// <summary>The event these tests send as a numbered record: nothing else in them raises it.</summary>
    private const EventType TestRecord = EventType.Readiness;
    private const string EventTopic = "homeunit/v1/unit-a/event";
    private const string StatusTopic = "homeunit/v1/unit-a/status";

    private readonly TempDirectory directory = new();
    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        directory.Dispose();
    }

    private LinkedUnit Unit(MqttOptions? options = null, int outboxCapacity = 10_000)
    {
        var unit = new LinkedUnit(options ?? Broker.ClientOptions(DeviceId), directory.Combine("state"), outboxCapacity, Log.Factory());
        Owned.Add(unit);
        return unit;
    }

    private static JsonElement Json(MqttMessage message) => JsonDocument.Parse(message.Payload).RootElement;

    private static IReadOnlyList<JsonElement> Events(CentralClient central, EventType type) =>
        central.Messages.Where(m => m.Topic == EventTopic).Select(Json).Where(e => e.GetProperty("type").GetString() == type.Code()).ToList();

    private static Task Online(LinkedUnit unit) =>
        Eventually.True(() => unit.Link.Status.State == LinkState.Online, "the link to be online");

    [Fact]
    public async Task Status_is_retained_online_follows_the_faults_and_is_offline_after_a_clean_stop()
    {
        var central = await Central(filters: "homeunit/v1/+/status");
        var unit = Unit();
        await unit.StartAsync();

        var online = Json(await central.WaitForAsync(m => m.Topic == StatusTopic, "the online status"));
        Assert.Equal("online", online.GetProperty("state").GetString());
        Assert.False(string.IsNullOrEmpty(online.GetProperty("version").GetString()));
        Assert.True(DateTimeOffset.TryParse(online.GetProperty("since").GetString(), out _));
        Assert.True(online.GetProperty("ready").GetBoolean());

        unit.Health.Set(UnitFault.Camera, "no frame within 5 s");
        var faulty = Json(await central.WaitForAsync(m => m.Topic == StatusTopic && !Json(m).GetProperty("ready").GetBoolean(), "the fault in the status"));
        Assert.Equal([UnitFault.Camera.Code()], faulty.GetProperty("faults").EnumerateArray().Select(f => f.GetString()));
        unit.Health.Set(UnitFault.Camera, null);
        await Eventually.True(() => central.Messages.Where(m => m.Topic == StatusTopic).Skip(2).Any(m => Json(m).GetProperty("ready").GetBoolean()), "ready again in the status");
        Assert.Equal(LinkState.Online, unit.Link.Status.State);

        await unit.StopAsync();

        await central.WaitForAsync(m => m.Topic == StatusTopic && Json(m).GetProperty("state").GetString() == "offline", "the offline status");
        Assert.Equal(LinkState.Offline, unit.Link.Status.State);
        var late = await Central("central-late", "homeunit/v1/+/status");
        var retained = await late.WaitForAsync(m => m.Topic == StatusTopic, "the retained status");
        Assert.True(retained.Retained);
        Assert.Equal("offline", Json(retained).GetProperty("state").GetString());
    }

    [Fact]
    public async Task Records_raised_during_a_ten_second_broker_outage_all_arrive_in_order_exactly_once()
    {
        var central = await Central(filters: "homeunit/v1/+/event");
        var unit = Unit();
        await unit.StartAsync();
        await Online(unit);

        await Broker.StopAsync();
        await Eventually.True(() => unit.Link.Status.State != LinkState.Online, "the link to notice the outage");
        for (var second = 0; second < 10; second++)
        {
            for (var i = 0; i < 50; i++)
            {
                unit.Events.Raise(TestRecord, Severity.Info, new { n = second * 50 + i });
            }
            await Task.Delay(TimeSpan.FromSeconds(1)); // the outage lasts ten seconds, records arriving all along
        }
        Assert.Equal(500, unit.Outbox.Count());
        await Broker.StartAsync();

        await Eventually.True(() => Events(central, TestRecord).Count >= 500, "500 records at the central", TimeSpan.FromSeconds(90));
        var records = Events(central, TestRecord);
        Assert.Equal(Enumerable.Range(0, 500), records.Select(r => r.GetProperty("data").GetProperty("n").GetInt32()));
        Assert.Equal(500, records.Select(r => r.GetProperty("id").GetString()).Distinct().Count());
        var restored = (await central.WaitForAsync(m => m.Topic == EventTopic && Json(m).GetProperty("type").GetString() == "link.restored", "link.restored"));
        Assert.True(Json(restored).GetProperty("data").GetProperty("downSeconds").GetDouble() >= 10);
        await Eventually.True(() => unit.Outbox.Count() == 0, "the outbox to be empty");
    }

    /// <summary>The records' numbers at the central in arrival order, each id counted once (the central drops duplicates by id).</summary>
    private static IReadOnlyList<int> Deduplicated(CentralClient central) =>
        Events(central, TestRecord).DistinctBy(r => r.GetProperty("id").GetString())
            .Select(r => r.GetProperty("data").GetProperty("n").GetInt32()).ToList();

    [Fact]
    public async Task Broker_frozen_while_the_unit_publishes_is_noticed_and_nothing_is_lost_after_it_thaws()
    {
        var central = await Central(filters: "homeunit/v1/+/event");
        var options = Broker.ClientOptions(DeviceId);
        options.KeepAliveSeconds = 5;
        var unit = Unit(options);
        await unit.StartAsync();
        await Online(unit);

        // Records keep coming all along, so the connection is never idle: the library alone would never ping.
        using var stopRaising = new CancellationTokenSource();
        var raised = 0;
        var raising = Task.Run(async () =>
        {
            while (!stopRaising.IsCancellationRequested)
            {
                unit.Events.Raise(TestRecord, Severity.Info, new { n = raised });
                Interlocked.Increment(ref raised);
                await Task.Delay(20);
            }
        });
        await Eventually.True(() => Events(central, TestRecord).Count >= 20, "records flowing before the freeze");
        Broker.Freeze();
        try
        {
            // About two keepalive periods (10 s) with slack for a loaded machine.
            await Eventually.True(() => unit.Link.Status is { State: not LinkState.Online, LastError: { } e } && e.Contains("did not answer a ping", StringComparison.Ordinal),
                "the link to notice the frozen broker", TimeSpan.FromSeconds(30));
        }
        finally
        {
            Broker.Thaw();
        }
        await Online(unit);
        await stopRaising.CancelAsync();
        await raising;

        await Eventually.True(() => Deduplicated(central).Count >= raised, $"all {raised} records at the central", TimeSpan.FromSeconds(60));
        Assert.Equal(Enumerable.Range(0, raised), Deduplicated(central));
        await Eventually.True(() => unit.Outbox.Count() == 0, "the outbox to be empty");
    }

    [Fact]
    public async Task Broker_killed_with_records_in_flight_loses_none_and_every_record_arrives_in_order_once()
    {
        var central = await Central(filters: "homeunit/v1/+/event");
        var unit = Unit();
        await unit.StartAsync();
        await Online(unit);
        for (var n = 0; n < 200; n++)
        {
            unit.Events.Raise(TestRecord, Severity.Info, new { n });
        }
        await Eventually.True(() => Deduplicated(central).Count >= 200, "the first 200 records at the central");

        // Frozen first, so what the unit sends next is certainly unacknowledged when the broker dies.
        Broker.Freeze();
        for (var n = 200; n < 400; n++)
        {
            unit.Events.Raise(TestRecord, Severity.Info, new { n });
        }
        await Broker.KillAsync();
        await Eventually.True(() => unit.Link.Status.State != LinkState.Online, "the link to notice the dead broker");
        for (var n = 400; n < 450; n++)
        {
            unit.Events.Raise(TestRecord, Severity.Info, new { n });
        }
        await Broker.StartAsync();

        await Eventually.True(() => Deduplicated(central).Count >= 450, "450 records at the central", TimeSpan.FromSeconds(90));
        Assert.Equal(Enumerable.Range(0, 450), Deduplicated(central));
        await Eventually.True(() => unit.Outbox.Count() == 0, "the outbox to be empty");
    }

    [Fact]
    public async Task Outbox_left_by_a_stopped_agent_is_delivered_by_the_next_one()
    {
        var central = await Central(filters: "homeunit/v1/+/event");
        await Broker.StopAsync();
        var first = Unit();
        await first.StartAsync();
        for (var n = 0; n < 50; n++)
        {
            first.Events.Raise(TestRecord, Severity.Info, new { n });
        }
        await first.StopAsync();
        Assert.Equal(50, first.Outbox.Count());

        await Broker.StartAsync();
        var second = Unit();
        await second.StartAsync();

        await Eventually.True(() => Events(central, TestRecord).Count >= 50, "50 records at the central", TimeSpan.FromSeconds(60));
        Assert.Equal(Enumerable.Range(0, 50), Events(central, TestRecord).Select(r => r.GetProperty("data").GetProperty("n").GetInt32()));
        await Eventually.True(() => second.Outbox.Count() == 0, "the outbox to be empty");
    }

    [Fact]
    public async Task Wrong_ca_is_refused_and_the_link_recovers_once_the_ca_file_is_fixed()
    {
        var central = await Central(filters: "homeunit/v1/+/status");
        var options = Broker.ClientOptions(DeviceId);
        options.CaFile = directory.Combine("ca.pem");
        File.Copy(Broker.Certificates.OtherCaFile, options.CaFile);
        var unit = Unit(options);
        await unit.StartAsync();

        await Eventually.True(() => unit.Link.Status is { State: LinkState.Offline, LastError: { } e } && e.Contains("not signed by the CA in Mqtt:CaFile", StringComparison.Ordinal),
            "the link to report the failed verification");
        Assert.DoesNotContain(central.Messages, m => m.Topic == StatusTopic);

        File.Copy(Broker.Certificates.CaFile, options.CaFile, overwrite: true);

        await central.WaitForAsync(m => m.Topic == StatusTopic && Json(m).GetProperty("state").GetString() == "online", "the online status", TimeSpan.FromSeconds(60));
        await Online(unit);
    }

    [Fact]
    public async Task Certificate_without_a_device_name_is_refused_and_retried_without_stopping_the_service()
    {
        var nameless = Broker.Certificates.ClientWithoutCommonName();
        var options = Broker.ClientOptions(DeviceId);
        options.CertFile = nameless.CertFile;
        options.KeyFile = nameless.KeyFile;
        var unit = Unit(options);
        await unit.StartAsync();

        await Eventually.True(() => unit.Link.Status.LastError?.Contains("Bad User Name or Password (0x86)", StringComparison.Ordinal) == true, "the refusal to be reported");
        // The dead connection is replaced: the broker sees attempt after attempt.
        await Eventually.True(() => CountOf(Broker.Log, "disconnected, not authorised") >= 3, "repeated attempts");
        Assert.Equal(LinkState.Offline, unit.Link.Status.State);
    }

    [Fact]
    public async Task Inbound_messages_are_passed_on_and_bad_ones_are_dropped_without_harming_the_link()
    {
        var central = await Central(filters: "homeunit/v1/+/event");
        var options = Broker.ClientOptions(DeviceId);
        options.MaxPayloadBytes = 1024;
        var unit = Unit(options);
        await unit.StartAsync();
        await Online(unit);

        await central.PublishAsync("homeunit/v1/unit-a/grant", "grant-1"u8.ToArray());
        await central.PublishAsync("homeunit/v1/unit-a/command", [0xff, 0xfe, 0x41]);
        await central.PublishAsync("homeunit/v1/unit-a/careplan", Encoding.UTF8.GetBytes(new string('x', 1500)));
        await central.PublishAsync("homeunit/v1/unit-a/careplan", []);
        await central.PublishAsync("homeunit/v1/unit-a/command", "command-2"u8.ToArray());

        using var deadline = new CancellationTokenSource(Eventually.DefaultTimeout);
        Assert.Equal(new InboundMessage("grant", "grant-1"), await unit.Link.Inbound.ReadAsync(deadline.Token));
        Assert.Equal(new InboundMessage("command", "command-2"), await unit.Link.Inbound.ReadAsync(deadline.Token));
        Assert.Contains(Log.Lines, l => l.Contains("dropped a 3-byte command message: not UTF-8", StringComparison.Ordinal));
        Assert.Contains(Log.Lines, l => l.Contains("dropped a 1500-byte message on homeunit/v1/unit-a/careplan", StringComparison.Ordinal));
        Assert.DoesNotContain(Log.Lines, l => l.Contains("xxxxxxxx", StringComparison.Ordinal));

        unit.Events.Raise(TestRecord, Severity.Info);
        await central.WaitForAsync(m => m.Topic == EventTopic && Json(m).GetProperty("type").GetString() == TestRecord.Code(), "an event after the bad input");
        Assert.Equal(LinkState.Online, unit.Link.Status.State);
    }

    [Fact]
    public async Task Commands_the_unit_acknowledged_are_handed_on_even_when_the_connection_ends_first()
    {
        var central = await Central();
        var unit = Unit();
        await unit.StartAsync();
        await Online(unit);
        const int Count = 100;
        for (var i = 0; i < Count; i++)
        {
            await central.PublishAsync("homeunit/v1/unit-a/command", Encoding.UTF8.GetBytes($"command-{i}"));
        }
        // Nobody handles them yet: the link's queue fills, and what the unit has acknowledged beyond it waits in the link.
        await Eventually.True(() => unit.Link.Inbound.Count == 64, "the queue of messages for the agent to fill");

        await Broker.StopAsync();
        await Eventually.True(() => unit.Link.Status.State != LinkState.Online, "the link to notice the broker gone");
        await Broker.StartAsync();

        var handed = new HashSet<string>();
        await Eventually.True(() =>
        {
            while (unit.Link.Inbound.TryRead(out var message))
            {
                handed.Add(message.Payload);
            }
            return handed.Count == Count;
        }, $"all {Count} commands handed on", TimeSpan.FromSeconds(60));
        Assert.Equal(Enumerable.Range(0, Count).Select(i => $"command-{i}").Order(), handed.Order());
    }

    [Fact]
    public async Task Outbox_overflow_is_reported_with_the_number_of_records_lost()
    {
        var central = await Central(filters: "homeunit/v1/+/event");
        var unit = Unit(outboxCapacity: 100);
        for (var n = 0; n < 150; n++)
        {
            unit.Events.Raise(TestRecord, Severity.Info, new { n });
        }

        await unit.StartAsync();

        var overflow = await central.WaitForAsync(m => m.Topic == EventTopic && Json(m).GetProperty("type").GetString() == "outbox.overflow", "the overflow event");
        Assert.Equal(50, Json(overflow).GetProperty("data").GetProperty("dropped").GetInt64());
        Assert.Equal("warning", Json(overflow).GetProperty("severity").GetString());
        await Eventually.True(() => Events(central, TestRecord).Count >= 100, "the 100 records kept");
        Assert.Equal(Enumerable.Range(50, 100), Events(central, TestRecord).Select(r => r.GetProperty("data").GetProperty("n").GetInt32()));
    }

    private static int CountOf(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }

    /// <summary>The agent as the host composes it (<see cref="AgentComposition"/>) on one state directory; only its link is started.</summary>
    private sealed class LinkedUnit : IAsyncDisposable
    {
        private readonly ServiceProvider provider;
        private bool running;

        public LinkedUnit(MqttOptions options, string stateDirectory, int outboxCapacity, ILoggerFactory loggers)
        {
            options.OutboxCapacity = outboxCapacity;
            var unit = Path.GetDirectoryName(stateDirectory)!;
            var keys = Directory.CreateDirectory(Path.Combine(unit, "trust")).FullName;
            var agent = new AgentOptions
            {
                DeviceId = DeviceId,
                State = { Directory = stateDirectory },
                Trust = { KeysDirectory = keys },
                Hardware = { Root = Path.Combine(unit, "kernel") },
                Mqtt = options,
            };
            provider = new ServiceCollection().AddSingleton(loggers).AddLogging()
                .AddAgent(agent, TrustedKeys.Load(keys), new AgentSeams())
                .BuildServiceProvider();
        }

        public Outbox Outbox => provider.GetRequiredService<Outbox>();
        public Events Events => provider.GetRequiredService<Events>();
        public HealthState Health => provider.GetRequiredService<HealthState>();
        public LoopHeartbeats Heartbeats => provider.GetRequiredService<LoopHeartbeats>();
        public LinkService Link => provider.GetRequiredService<LinkService>();

        public async Task StartAsync()
        {
            running = true;
            await Link.StartAsync(CancellationToken.None);
        }

        public async Task StopAsync()
        {
            if (running)
            {
                running = false;
                await Link.StopAsync(CancellationToken.None);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync();
            await provider.DisposeAsync();
        }
    }
}
