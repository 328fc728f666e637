using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace HomeUnit.Tests.Infrastructure;

/// <summary>Loggers that write to the test's output and keep every line, so a test can assert what was logged.</summary>
public sealed class TestLog(ITestOutputHelper output) : ILoggerProvider
{
    private readonly List<string> lines = [];

    public ILoggerFactory Factory() => LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Debug).AddProvider(this));

    public ILogger<T> For<T>() => Factory().CreateLogger<T>();

    public IReadOnlyList<string> Lines
    {
        get { lock (lines) return [.. lines]; }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName[(categoryName.LastIndexOf('.') + 1)..]);

    public void Dispose()
    {
    }

    private void Write(string line)
    {
        lock (lines)
        {
            lines.Add(line);
        }
        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test has finished; a background thread logged late.
        }
    }

    private sealed class Logger(TestLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            log.Write($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel,-11} {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");
    }
}
