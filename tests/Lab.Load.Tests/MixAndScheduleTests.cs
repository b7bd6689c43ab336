using Lab.Load.Engine;
using Lab.Load.Journeys;

namespace Lab.Load.Tests;

public sealed class MixAndScheduleTests
{
    [Fact]
    public void Journey_picks_follow_the_mix_proportions()
    {
        var mix = JourneyMix.Parse("browse=60,cart=25,checkout=10,history=5", JourneyCatalog.Shop.Names);
        var picker = new JourneyPicker(mix.Weights.Select(w => w.Weight).ToList());
        var random = new Random(12345);
        const int draws = 200_000;
        var counts = new int[4];
        for (var i = 0; i < draws; i++)
        {
            counts[picker.Pick(random)]++;
        }

        double[] expected = [0.60, 0.25, 0.10, 0.05];
        for (var j = 0; j < 4; j++)
        {
            // Binomial standard deviation at 200k draws is ≤ 0.0011; 0.005 is > 4 sigma.
            Assert.InRange(counts[j] / (double)draws, expected[j] - 0.005, expected[j] + 0.005);
        }
    }

    [Fact]
    public void Same_seed_gives_the_same_sequence()
    {
        var picker = new JourneyPicker([1, 1, 1]);
        var ra = new Random(9);
        var rb = new Random(9);
        Assert.Equal(Enumerable.Range(0, 50).Select(_ => picker.Pick(ra)), Enumerable.Range(0, 50).Select(_ => picker.Pick(rb)));
    }

    [Fact]
    public void Zipf_makes_hot_keys()
    {
        var zipf = new ZipfDistribution(2000, 1.0);
        var random = new Random(3);
        const int draws = 100_000;
        var counts = new int[2001];
        for (var i = 0; i < draws; i++)
        {
            counts[zipf.Sample(random)]++;
        }

        // P(1) = 1/H(2000) ≈ 0.1216 and P(1)/P(2) = 2 for exponent 1.
        Assert.InRange(counts[1] / (double)draws, 0.115, 0.128);
        Assert.InRange(counts[1] / (double)counts[2], 1.8, 2.2);
        Assert.True(counts.Skip(1).Take(20).Sum() > draws * 0.4, "the top 1% of keys should get over 40% of draws");
        Assert.Equal(0, counts[0]);
    }

    [Fact]
    public void Constant_schedule_spaces_arrivals_evenly()
    {
        var schedule = new ArrivalSchedule(50, 50, 2);
        Assert.Equal(100, schedule.Total);
        Assert.Equal(0, schedule.TimeOf(0));
        Assert.Equal(0.02, schedule.TimeOf(1), 9);
        Assert.Equal(1, schedule.DueBy(0));
        Assert.Equal(51, schedule.DueBy(1.0));
        Assert.Equal(100, schedule.DueBy(5));
    }

    [Fact]
    public void Ramp_schedule_accelerates_and_plans_the_area_under_the_rate()
    {
        var schedule = new ArrivalSchedule(100, 1000, 10);
        Assert.Equal(5500, schedule.Total);

        // Gaps shrink as the rate rises.
        var early = schedule.TimeOf(2) - schedule.TimeOf(1);
        var late = schedule.TimeOf(5400) - schedule.TimeOf(5399);
        Assert.True(early > 5 * late);
        Assert.Equal(1 / 100.0, early, 3);
        Assert.InRange(schedule.RateAt(5), 549, 551);

        for (long i = 0; i < 5500; i += 500)
        {
            Assert.InRange(schedule.DueBy(schedule.TimeOf(i) + 1e-9), i + 1, i + 2);
        }
    }
}
