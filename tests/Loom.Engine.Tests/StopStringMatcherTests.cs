using Loom.Engine.Sampling;

namespace Loom.Engine.Tests;

public class StopStringMatcherTests
{
    // Feeds the deltas and returns what a client would see, plus the matcher for inspection.
    private static (string Text, StopStringMatcher Matcher, List<string> Emitted) Run(string[] stops, params string[] deltas)
    {
        var m = new StopStringMatcher(stops);
        var emitted = new List<string>();
        foreach (var d in deltas) emitted.Add(m.Feed(d));
        emitted.Add(m.Flush());
        return (string.Concat(emitted), m, emitted);
    }

    [Fact]
    public void No_stops_passes_text_through()
    {
        var (text, m, emitted) = Run([], "Hello", ", ", "world");
        Assert.Equal("Hello, world", text);
        Assert.Equal(["Hello", ", ", "world", ""], emitted);
        Assert.False(m.Stopped);
        Assert.Null(m.MatchedStop);
    }

    [Fact]
    public void Stop_spanning_many_deltas_is_held_back_then_dropped()
    {
        var (text, m, emitted) = Run(["<|end|>"], "Hi there", "<", "|", "en", "d|", ">ignored", " more");
        Assert.Equal("Hi there", text);
        Assert.Equal(["Hi there", "", "", "", "", "", "", ""], emitted);
        Assert.True(m.Stopped);
        Assert.Equal("<|end|>", m.MatchedStop);
    }

    [Fact]
    public void Partial_match_that_fails_is_released_and_matching_resumes()
    {
        var (text, m, emitted) = Run(["abab"], "xab", "a", "c", "aba", "b!", "tail");
        Assert.Equal("xabac", text);
        Assert.Equal(["x", "", "abac", "", "", "", ""], emitted);
        Assert.Equal("abab", m.MatchedStop);
    }

    [Fact]
    public void Overlapping_self_similar_stop_is_found()
    {
        // "aab" inside "aaab": after "aa" fails at the third 'a', the match restarts one character later.
        var (text, _, _) = Run(["aab"], "a", "a", "a", "b");
        Assert.Equal("a", text);
    }

    [Fact]
    public void Prefix_stop_wins_when_it_completes_first()
    {
        // "ab" completes before "abc" can, so the shorter stop ends the text.
        var (text, m, _) = Run(["abc", "ab"], "xa", "b", "c");
        Assert.Equal("x", text);
        Assert.Equal("ab", m.MatchedStop);
    }

    [Fact]
    public void Longer_stop_wins_when_both_end_at_the_same_character()
    {
        var (text, m, _) = Run(["bc", "abc"], "xab", "cz");
        Assert.Equal("x", text);
        Assert.Equal("abc", m.MatchedStop);
    }

    [Fact]
    public void Longer_stop_that_fails_releases_text_while_shorter_prefix_does_not_complete()
    {
        var (text, m, emitted) = Run(["abcd", "abX"], "ab", "c", "e");
        Assert.Equal("abce", text);
        Assert.False(m.Stopped);
        Assert.Equal(["", "", "abce", ""], emitted);
    }

    [Fact]
    public void Result_does_not_depend_on_how_text_is_split()
    {
        string[] stops = ["abcd", "c", "zz"];
        const string full = "xyzabcdzz";
        var whole = Run(stops, full);
        var chars = Run(stops, [.. full.Select(c => c.ToString())]);
        Assert.Equal(whole.Text, chars.Text);
        Assert.Equal("xyzab", whole.Text);
        Assert.Equal("c", whole.Matcher.MatchedStop);
        Assert.Equal("c", chars.Matcher.MatchedStop);
    }

    [Fact]
    public void Stop_at_the_very_start_emits_nothing()
    {
        var (text, m, emitted) = Run(["###"], "###", "after");
        Assert.Equal("", text);
        Assert.All(emitted, e => Assert.Equal("", e));
        Assert.True(m.Stopped);
        var (split, _, _) = Run(["###"], "#", "#", "#rest");
        Assert.Equal("", split);
    }

    [Fact]
    public void Stop_in_the_middle_of_a_delta_drops_the_rest()
    {
        var (text, _, emitted) = Run(["STOP"], "one two STOP three", "four");
        Assert.Equal("one two ", text);
        Assert.Equal(["one two ", "", ""], emitted);
    }

    [Fact]
    public void Flush_returns_held_back_text_at_the_end()
    {
        var m = new StopStringMatcher(["</s>"]);
        Assert.Equal("value ", m.Feed("value </"));
        Assert.Equal("</", m.Flush());
        Assert.Equal("", m.Flush());
        Assert.False(m.Stopped);
    }

    [Fact]
    public void Unicode_stops_match_across_deltas()
    {
        var (text, m, _) = Run(["終わり", "👋"], "こんにちは", "終", "わ", "り", "!");
        Assert.Equal("こんにちは", text);
        Assert.Equal("終わり", m.MatchedStop);

        var (emoji, m2, _) = Run(["👋"], "hi ", "\uD83D", "\uDC4B", " bye");
        Assert.Equal("hi ", emoji);
        Assert.Equal("👋", m2.MatchedStop);
    }

    [Fact]
    public void Emitted_text_never_splits_a_surrogate_pair()
    {
        var m = new StopStringMatcher(["END"]);
        Assert.Equal("a", m.Feed("a\uD83D"));   // high surrogate held until its pair arrives
        Assert.Equal("\uD83D\uDE00b", m.Feed("\uDE00b"));
        Assert.Equal("", m.Flush());
    }

    [Fact]
    public void Deltas_after_stopping_are_ignored()
    {
        var m = new StopStringMatcher(["x"]);
        Assert.Equal("a", m.Feed("ax"));
        Assert.Equal("", m.Feed("more x"));
        Assert.Equal("", m.Flush());
        Assert.Equal("x", m.MatchedStop);
    }

    [Fact]
    public void Empty_stop_strings_are_rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => new StopStringMatcher(["ok", ""]));
        Assert.Equal("stop", ex.ParamName);
    }

    [Fact]
    public void Random_splits_agree_with_a_one_shot_search()
    {
        var rng = new SamplingRng(17);
        string[] stops = ["aba", "bb", "abba"];
        for (var trial = 0; trial < 500; trial++)
        {
            var chars = new char[(int)(rng.NextUInt64() % 12)];
            for (var i = 0; i < chars.Length; i++) chars[i] = "ab c"[(int)(rng.NextUInt64() % 4)];
            var full = new string(chars);

            // Expected: cut at the earliest-ending occurrence (longest among equal ends), computed by brute force.
            var bestEnd = int.MaxValue;
            var bestStart = -1;
            foreach (var s in stops)
                for (var at = 0; at + s.Length <= full.Length; at++)
                    if (string.CompareOrdinal(full, at, s, 0, s.Length) == 0 &&
                        (at + s.Length < bestEnd || (at + s.Length == bestEnd && at < bestStart)))
                    { bestEnd = at + s.Length; bestStart = at; }
            var expected = bestStart < 0 ? full : full[..bestStart];

            var deltas = new List<string>();
            for (var i = 0; i < full.Length;)
            {
                var len = 1 + (int)(rng.NextUInt64() % 4);
                len = Math.Min(len, full.Length - i);
                deltas.Add(full.Substring(i, len));
                i += len;
            }
            Assert.Equal(expected, Run(stops, [.. deltas]).Text);
        }
    }
}
