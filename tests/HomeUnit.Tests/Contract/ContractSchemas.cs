using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using HomeUnit.Protocol;

namespace HomeUnit.Tests.Contract;

/// <summary>
/// The JSON Schemas of docs/schemas (referenced from docs/asyncapi.yaml), loaded once, so tests can hold
/// what the agent really publishes and what the central really signs against the published contract.
/// </summary>
public static class ContractSchemas
{
    public static readonly string Directory = Path.Combine(RepositoryRoot(), "docs", "schemas");

    private static readonly Lazy<IReadOnlyDictionary<string, JsonSchema>> Loaded = new(Load);

    // The files have no $id (so the AsyncAPI tools resolve their references as files); this base only names them here.
    private static readonly Uri Base = new("urn:homeunit:schemas/");

    /// <summary>The schema of a device → central topic's payload, or of a signed message's claims.</summary>
    public static JsonSchema For(string name) => Loaded.Value[name];

    /// <summary>The schema's own JSON, for reading its enum lists.</summary>
    public static JsonNode Document(string name) => JsonNode.Parse(File.ReadAllText(Path.Combine(Directory, name + ".json")))!;

    /// <summary>Null when <paramref name="json"/> is valid under schema <paramref name="name"/>, else every failure with where it is.</summary>
    public static string? Problems(string name, string json)
    {
        JsonElement instance;
        try
        {
            instance = JsonDocument.Parse(json).RootElement;
        }
        catch (JsonException e)
        {
            return $"not JSON: {e.Message}";
        }
        var result = For(name).Evaluate(instance, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
        if (result.IsValid)
        {
            return null;
        }
        var failures = (result.Details ?? [])
            .Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} ({d.EvaluationPath}): {e.Key} {e.Value}"))
            .ToList();
        return string.Join("\n", failures.Count > 0 ? failures : ["invalid"]);
    }

    /// <summary>Asserts that every message the central saw from the unit matches the contract for its topic.</summary>
    public static void AssertPublishedMatch(IEnumerable<(string Topic, string Payload)> messages)
    {
        var wrong = new List<string>();
        var seen = 0;
        foreach (var (topic, payload) in messages)
        {
            var name = topic[(topic.LastIndexOf('/') + 1)..];
            if (name is not (Topics.Status or Topics.Event or Topics.Audit))
            {
                continue;
            }
            seen++;
            if (Problems(name, payload) is { } problem)
            {
                wrong.Add($"{topic}: {payload}\n{problem}");
            }
        }
        Assert.True(seen > 0, "the central saw nothing from the unit to hold against the contract");
        Assert.True(wrong.Count == 0, $"{wrong.Count} of {seen} published messages do not match docs/schemas:\n{string.Join("\n\n", wrong)}");
    }

    private static IReadOnlyDictionary<string, JsonSchema> Load()
    {
        // A schema's external references must be built before the schemas that use them.
        var options = new BuildOptions { SchemaRegistry = new SchemaRegistry() };
        var schemas = new Dictionary<string, JsonSchema>(StringComparer.Ordinal);
        foreach (var name in new[] { "common", "status", "event", "audit", "grant", "careplan", "command" })
        {
            var file = Path.Combine(Directory, name + ".json");
            schemas[name] = JsonSchema.FromFile(file, options, new Uri(Base, name + ".json"));
        }
        return schemas;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "HomeUnit.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("HomeUnit.sln not found above " + AppContext.BaseDirectory);
    }
}
