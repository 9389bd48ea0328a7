using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Loom.Server.Metrics;

/// <summary>
/// A small <see cref="MeterListener"/> that keeps running totals of chosen meters' instruments and prints them in
/// Prometheus' text format (version 0.0.4): counters as <c>_total</c>, gauges as their last observation, histograms as
/// cumulative <c>_bucket{le=...}</c> lines with <c>_sum</c> and <c>_count</c>. Tags are not split out: every
/// instrument here is one series. Instrument names map dots to underscores and gain a <c>_seconds</c> unit suffix.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    /// <summary>Bucket bounds (seconds) for latency histograms, as vLLM uses for its request timings.</summary>
    public static readonly double[] SecondsBuckets = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];

    private readonly MeterListener _listener = new();
    private readonly Func<Meter, bool> _include;
    private readonly Dictionary<Instrument, Series> _series = [];
    private readonly Lock _gate = new();

    private readonly string _info;

    /// <summary>
    /// Listens to every instrument of the meters <paramref name="include"/> accepts (and to those published later).
    /// <paramref name="info"/>: constant series printed as Prometheus info gauges (<c>name{label="value"} 1</c>), for
    /// facts fixed at start-up that a scraper joins on, such as the kernel tier.
    /// </summary>
    public PrometheusExporter(Func<Meter, bool> include, params (string Name, string Help, string Label, string Value)[] info)
    {
        _include = include;
        var sb = new StringBuilder();
        foreach (var (name, help, label, value) in info)
            sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
              .Append("# TYPE ").Append(name).Append(" gauge\n")
              .Append(name).Append('{').Append(label).Append("=\"").Append(value.Replace("\\", "\\\\").Replace("\"", "\\\"")).Append("\"} 1\n");
        _info = sb.ToString();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!_include(instrument.Meter)) return;
            lock (_gate) _series[instrument] = new Series(instrument);
            listener.EnableMeasurementEvents(instrument);
        };
        _listener.MeasurementsCompleted = (instrument, _) => { lock (_gate) _series.Remove(instrument); };
        _listener.SetMeasurementEventCallback<long>((i, v, _, _) => Record(i, v));
        _listener.SetMeasurementEventCallback<int>((i, v, _, _) => Record(i, v));
        _listener.SetMeasurementEventCallback<double>((i, v, _, _) => Record(i, v));
        _listener.SetMeasurementEventCallback<float>((i, v, _, _) => Record(i, v));
        _listener.Start();
    }

    private void Record(Instrument instrument, double value)
    {
        lock (_gate)
            if (_series.TryGetValue(instrument, out var s)) s.Add(value);
    }

    /// <summary>Observes the gauges now and prints every series.</summary>
    public string Scrape()
    {
        _listener.RecordObservableInstruments();
        var sb = new StringBuilder(_info);
        lock (_gate)
            foreach (var s in _series.Values.OrderBy(s => s.Name, StringComparer.Ordinal)) s.WriteTo(sb);
        return sb.ToString();
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>One instrument's accumulated state.</summary>
    private sealed class Series
    {
        private readonly Instrument _instrument;
        private readonly Kind _kind;
        private readonly long[] _buckets = [];
        private double _value, _sum;
        private long _count;

        private enum Kind { Counter, Gauge, Histogram }

        public Series(Instrument instrument)
        {
            _instrument = instrument;
            string name = instrument.Name.Replace('.', '_').Replace('-', '_');
            if (instrument.Unit == "s") name += "_seconds";
            _kind = instrument switch
            {
                Histogram<double> or Histogram<long> or Histogram<int> or Histogram<float> => Kind.Histogram,
                ObservableGauge<long> or ObservableGauge<int> or ObservableGauge<double> or ObservableGauge<float> => Kind.Gauge,
                UpDownCounter<long> or UpDownCounter<int> or ObservableUpDownCounter<long> or ObservableUpDownCounter<int> => Kind.Gauge,
                _ when instrument.GetType().Name.StartsWith("Gauge", StringComparison.Ordinal) => Kind.Gauge,
                _ => Kind.Counter,
            };
            if (_kind == Kind.Counter) name += "_total";
            if (_kind == Kind.Histogram) _buckets = new long[SecondsBuckets.Length];
            Name = name;
        }

        public string Name { get; }

        private bool Cumulative => _instrument is Counter<long> or Counter<int> or Counter<double> or UpDownCounter<long> or UpDownCounter<int>;

        public void Add(double v)
        {
            switch (_kind)
            {
                case Kind.Histogram:
                    for (int i = 0; i < SecondsBuckets.Length; i++) if (v <= SecondsBuckets[i]) _buckets[i]++;
                    _sum += v;
                    _count++;
                    break;
                default:
                    // Synchronous counters report increments; observable instruments report the current value.
                    _value = Cumulative ? _value + v : v;
                    break;
            }
        }

        public void WriteTo(StringBuilder sb)
        {
            string type = _kind switch { Kind.Counter => "counter", Kind.Gauge => "gauge", _ => "histogram" };
            if (_instrument.Description is { Length: > 0 } d) sb.Append("# HELP ").Append(Name).Append(' ').Append(d.Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n');
            sb.Append("# TYPE ").Append(Name).Append(' ').Append(type).Append('\n');
            if (_kind != Kind.Histogram)
            {
                sb.Append(Name).Append(' ').Append(Format(_value)).Append('\n');
                return;
            }
            string bare = Name;
            for (int i = 0; i < SecondsBuckets.Length; i++)
                sb.Append(bare).Append("_bucket{le=\"").Append(Format(SecondsBuckets[i])).Append("\"} ").Append(_buckets[i]).Append('\n');
            sb.Append(bare).Append("_bucket{le=\"+Inf\"} ").Append(_count).Append('\n');
            sb.Append(bare).Append("_sum ").Append(Format(_sum)).Append('\n');
            sb.Append(bare).Append("_count ").Append(_count).Append('\n');
        }

        private static string Format(double v) =>
            double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : double.IsNaN(v) ? "NaN" : v.ToString("R", CultureInfo.InvariantCulture);
    }
}
