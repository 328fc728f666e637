using System.Text.Json;
using System.Text.Json.Nodes;
using HomeUnit.Protocol;
using Spectre.Console;

namespace HomeUnit.Central;

/// <summary>
/// <c>homeunit-central watch DEVICE</c>: the unit's status, events and audit records as they arrive, with the
/// audit chain checked record by record (gaps, duplicates and breaks flagged) and events de-duplicated by id.
/// Readable lines for a person, or one JSON object per line for a program (<c>--json</c>).
/// </summary>
public sealed class Watch(string deviceId, bool json, TextWriter output)
{
    // Readable in a terminal and a log: no \uXXXX for arrows and non-ASCII words.
    private static readonly JsonSerializerOptions Output = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly AuditFollower chain = new();
    private readonly HashSet<string> eventIds = [];
    private readonly Lock gate = new();
    private int records;
    private int duplicates;
    private string? broken;
    private bool summarised;

    /// <summary>Subscribes as <paramref name="clientId"/> (a persistent session: records sent while away arrive on return) until cancelled.</summary>
    public async Task<int> RunAsync(BrokerAddress broker, string clientId, CancellationToken cancellationToken)
    {
        string[] filters = [Topics.For(deviceId, Topics.Status), Topics.For(deviceId, Topics.Event), Topics.For(deviceId, Topics.Audit)];
        await using var client = await CentralClient.ConnectAsync(broker, filters, clientId, keepMessages: false);
        client.Received += message => Show(message.Topic, message.Payload);
        Note("watching", $"{Topics.Prefix(deviceId)}{{status,event,audit}} on {broker}");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
        return Summary();
    }

    /// <summary>One message from the broker (its full topic and payload), shown and checked.</summary>
    public void Show(string fullTopic, byte[] message)
    {
        lock (gate)
        {
            if (summarised)
            {
                return;
            }
            var topic = fullTopic[(fullTopic.LastIndexOf('/') + 1)..];
            JsonObject? payload;
            try
            {
                payload = JsonNode.Parse(message)?.AsObject();
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException)
            {
                payload = null;
            }
            if (payload is null)
            {
                Emit(topic, null, "malformed", $"not a JSON object ({message.Length} bytes)", Style.Bad);
                return;
            }
            switch (topic)
            {
                case Topics.Status:
                    ShowStatus(payload);
                    break;
                case Topics.Event:
                    ShowEvent(payload);
                    break;
                case Topics.Audit:
                    ShowAudit(payload);
                    break;
            }
        }
    }

    private void ShowStatus(JsonObject status)
    {
        var state = Text(status, "state");
        var ready = status["ready"]?.GetValueKind() == JsonValueKind.True;
        var faults = status["faults"] is JsonArray list ? string.Join(", ", list.Select(f => f?.ToString())) : "";
        var inCharge = status["central"] is { } central ? $", central in charge: {central}" : "";
        var line = state == "online"
            ? $"online, {(ready ? "ready" : "NOT READY")}{(faults.Length > 0 ? $", faults: {faults}" : "")}{inCharge} (agent {Text(status, "version")}, since {Text(status, "since")})"
            : $"OFFLINE since {Text(status, "since")}: no look is possible, send staff for the next check";
        Emit(Topics.Status, status, null, line, state == "online" && ready ? Style.Good : Style.Bad);
    }

    private void ShowEvent(JsonObject deviceEvent)
    {
        var id = Text(deviceEvent, "id");
        var type = Text(deviceEvent, "type");
        var severity = Text(deviceEvent, "severity");
        if (!eventIds.Add(id))
        {
            duplicates++;
            Emit(Topics.Event, deviceEvent, "duplicate", $"{type}: event {id} again (a redelivery): dropped", Style.Warn);
            return;
        }
        var data = deviceEvent["data"] as JsonObject;
        // A type or severity this tool does not know is still shown, as it came.
        var level = Codes.Parse<Severity>(severity);
        var words = Codes.Parse<EventType>(type) switch
        {
            EventType.Readiness when data?["ready"]?.GetValueKind() == JsonValueKind.False =>
                $"readiness: NOT READY ({string.Join(", ", (data["parts"] as JsonObject ?? []).Where(p => p.Value?.ToString() != ReadinessParts.Ok).Select(p => $"{p.Key}: {p.Value}"))}) → send staff instead of relying on the look",
            EventType.Readiness => "readiness: ready" + (data?["check"] is JsonObject c ? $" for check {c["check"]} at {c["at"]}" : ""),
            _ => $"{type}{(data is null ? "" : " " + data.ToJsonString(Output))}{(level == Severity.Critical ? " → send staff" : "")}",
        };
        Emit(Topics.Event, deviceEvent, null, $"{words} [{severity}] #{deviceEvent["seq"]}",
            level switch { Severity.Critical => Style.Bad, Severity.Warning => Style.Warn, _ => Style.Plain });
    }

    private void ShowAudit(JsonObject json)
    {
        AuditRecord record;
        try
        {
            record = json.Deserialize<AuditRecord>(Wire.Json)!;
        }
        catch (JsonException e)
        {
            broken ??= $"an audit record could not be read: {e.Message}";
            Emit(Topics.Audit, json, "broken", "an audit record that cannot be read: " + e.Message, Style.Bad);
            return;
        }
        var (step, note) = chain.Observe(record);
        if (step == ChainStep.Duplicate)
        {
            duplicates++;
        }
        else if (step == ChainStep.Broken)
        {
            broken ??= note;
        }
        else
        {
            records++;
        }
        var parts = new List<string> { $"#{record.Seq} {record.Type.Code()}" };
        if (record.Operator is not null) parts.Add($"operator {record.Operator}");
        if (record.Issuer is not null) parts.Add($"from {record.Issuer}");
        if (record.Central is not null) parts.Add($"central {record.Central}");
        if (record.Kind is not null) parts.Add(record.Kind);
        if (record.View is not null) parts.Add(record.View);
        if (record.Check is not null) parts.Add($"check {record.Check}");
        if (record.Version is not null) parts.Add($"version {record.Version}");
        if (record.DurationMs is { } ms) parts.Add($"{ms / 1000.0:0.0} s");
        if (record.Reason is not null) parts.Add($"reason {record.Reason}");
        if (record.Count is not null) parts.Add($"×{record.Count}");
        if (record.Grant is not null) parts.Add($"grant {record.Grant}");
        var style = step switch { ChainStep.Broken => Style.Bad, ChainStep.Gap or ChainStep.Duplicate => Style.Warn, _ => Style.Plain };
        Emit(Topics.Audit, json, step.ToString().ToLowerInvariant(), $"{string.Join("  ", parts)}   chain: {note}", style);
    }

    private int Summary()
    {
        lock (gate)
        {
            summarised = true;
            var missing = chain.Missing();
            var text = broken is not null ? $"audit chain BROKEN: {broken}"
                : missing.Count > 0 ? $"audit chain: {records} records, {missing.Count} missing ({string.Join(", ", missing.Take(10))}{(missing.Count > 10 ? ", …" : "")})"
                : $"audit chain intact: {records} records{(chain.Last is { } last ? $" up to #{last}" : "")}";
            if (json)
            {
                output.WriteLine(new JsonObject
                {
                    ["kind"] = "summary",
                    ["records"] = records,
                    ["duplicates"] = duplicates,
                    ["missing"] = new JsonArray([.. missing.Select(m => (JsonNode)m)]),
                    ["broken"] = broken,
                }.ToJsonString(Output));
            }
            else
            {
                Line(broken is null && missing.Count == 0 ? Style.Good : Style.Bad, "summary", text);
            }
            return broken is null && missing.Count == 0 ? 0 : 1;
        }
    }

    private void Note(string kind, string text)
    {
        if (json)
        {
            output.WriteLine(new JsonObject { ["kind"] = kind, ["note"] = text }.ToJsonString(Output));
        }
        else
        {
            Line(Style.Plain, kind, text);
        }
    }

    private void Emit(string kind, JsonObject? message, string? chainStep, string text, Style style)
    {
        if (json)
        {
            var line = new JsonObject { ["kind"] = kind, ["message"] = message?.DeepClone() };
            if (chainStep is not null)
            {
                line["chain"] = chainStep;
            }
            line["note"] = text;
            output.WriteLine(line.ToJsonString(Output));
        }
        else
        {
            Line(style, kind, text);
        }
    }

    private enum Style { Plain, Good, Warn, Bad }

    private void Line(Style style, string kind, string text)
    {
        var colour = style switch { Style.Good => "green", Style.Warn => "yellow", Style.Bad => "red", _ => "default" };
        var stamp = DateTimeOffset.Now.ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture);
        if (ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected)
        {
            AnsiConsole.MarkupLine($"[grey]{stamp}[/] [bold]{kind,-8}[/] [{colour}]{Markup.Escape(text)}[/]");
        }
        else
        {
            output.WriteLine($"{stamp} {kind,-8} {text}");
        }
    }

    private static string Text(JsonObject o, string name) => o[name]?.ToString() ?? "?";
}
