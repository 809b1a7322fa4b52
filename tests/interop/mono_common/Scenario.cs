// The interop scenario (tests/interop/scenario.json) as both .NET drivers run it: the steps in order,
// what each step reports, one JSON line per step. Each driver (mono_asmx/Program.cs over Mono `wsdl`,
// mono_wcf/Program.cs over `svcutil`) subclasses Scenario with the calls of its proxy and is compiled
// together with this file.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Web.Script.Serialization;

// The result classes as this file reads them. Both generators name the classes and their properties
// alike, but each in its own namespace, so a driver adds these interfaces to its generated (partial)
// classes. Lists are arrays (wsdl) or List<T> collections (svcutil): both are IReadOnlyList.
public interface IFoundRow
{
    int? ID { get; }
    string IDENTIFY { get; }
    decimal? BALANCE { get; }
}

public interface IUser
{
    string NAME { get; }
    string CONTRACT_NUMBER { get; }
    decimal? BALANCE { get; }
    DateTime? NEXT_AUTO_ACOUNT { get; }
    DateTime? DISABLED_DATE { get; }
}

public interface IOperationRow
{
    int? ID { get; }
    decimal? SUMMA { get; }
    string NUMBER { get; }
    string DESCR { get; }
    DateTime? OP_DATE { get; }
}

public interface IHomeRow
{
    string CITY { get; }
    string STREET { get; }
    int? S_NUMBER { get; }
    DateTime? CONNECT_DATE { get; }
}

public interface IPaymentResult
{
    int LINE { get; }
    string IDEMPOTENCY_KEY { get; }
    string STATUS { get; }
    int? USER_ID { get; }
    int? ID { get; }
    string CODE { get; }
}

public interface IReconcilePayment
{
    string KIND { get; }
    string IDEMPOTENCY_KEY { get; }
    string JOURNAL_STATE { get; }
    decimal? BILLING_SUMMA { get; }
    int? BILLING_ID { get; }
}

public interface IReconcileDay
{
    decimal JOURNAL_SUMMA { get; }
    decimal BILLING_SUMMA { get; }
}

// GatewayReconcile's reply as Scenario reads it. DAY (an xs:date) is a DateTime from wsdl and a string
// from svcutil, so the driver gives the first day as text.
public class Report
{
    public IReadOnlyList<IReconcilePayment> Payments;
    public IReadOnlyList<IReconcileDay> Days;
    public string FirstDay;
}

public abstract class Scenario
{
    const string WallClock = "yyyy-MM-ddTHH:mm:ss";
    protected static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    Dictionary<string, Dictionary<string, object>> steps;
    int userId;
    decimal before;
    int? paidId;
    string batchKey;
    int? batchId;

    // What the driver does with its proxy; `a` is the step's "args" from scenario.json.
    protected abstract Type Contract { get; }            // the type whose methods are the operations,
    protected abstract Type OperationAttribute { get; }  // each marked with this generator attribute
    protected abstract IReadOnlyList<IFoundRow> Find(Dictionary<string, object> a);
    protected abstract IUser GetUser(int userId);
    protected abstract int? AddPayment(int userId, Dictionary<string, object> a);  // the new operation's ID
    protected abstract IReadOnlyList<IOperationRow> ListPayments(int userId, Dictionary<string, object> a);
    protected abstract IReadOnlyList<IHomeRow> ListHomes(int? id);
    // GatewayPostPayments: each line's fields by name (IDEMPOTENCY_KEY, USER_ID or CONTRACT_NUMBER,
    // OP_DATE, SUMMA as text, DESCR, NUMBER); a field that is not there is left out.
    protected abstract IReadOnlyList<IPaymentResult> PostPayments(IList<Dictionary<string, object>> lines);
    protected abstract Report Reconcile(Dictionary<string, object> a);
    // The fault step's call: what the fault it provoked carries, or null when no fault came.
    protected abstract Dictionary<string, object> ProvokeFault(int userId, Dictionary<string, object> a);

    Dictionary<string, object> Args(string step)
    {
        object args;
        return steps[step].TryGetValue("args", out args) ? (Dictionary<string, object>)args : new Dictionary<string, object>();
    }

    // A DateTime of Kind Unspecified is sent without an offset: the billing's wall clock.
    protected static DateTime When(object text)
    {
        return DateTime.ParseExact((string)text, WallClock, Inv, DateTimeStyles.None);
    }

    static string Wall(DateTime? value)
    {
        return value.HasValue ? value.Value.ToString(WallClock, Inv) : null;
    }

    static string Money(decimal? value)
    {
        return value.HasValue ? value.Value.ToString(Inv) : null;
    }

    object wsdl()
    {
        var names = Contract.GetMethods()
            .Where(m => m.GetCustomAttributes(OperationAttribute, false).Length > 0)
            .Select(m => m.Name).OrderBy(n => n, StringComparer.Ordinal).ToList();
        return new Dictionary<string, object> { { "operations", names } };
    }

    object find()
    {
        var found = Find(Args("find"));
        userId = found[0].ID.Value;
        return new Dictionary<string, object> {
            { "count", found.Count }, { "ID", found[0].ID }, { "IDENTIFY", found[0].IDENTIFY },
            { "BALANCE", Money(found[0].BALANCE) } };
    }

    object read()
    {
        var user = GetUser(userId);
        before = user.BALANCE.Value;
        return new Dictionary<string, object> {
            { "NAME", user.NAME }, { "CONTRACT_NUMBER", user.CONTRACT_NUMBER }, { "BALANCE", Money(user.BALANCE) },
            { "NEXT_AUTO_ACOUNT", Wall(user.NEXT_AUTO_ACOUNT) }, { "DISABLED_DATE", Wall(user.DISABLED_DATE) } };
    }

    object pay()
    {
        paidId = AddPayment(userId, Args("pay"));
        return new Dictionary<string, object> { { "ID", paidId } };
    }

    object balance()
    {
        decimal after = GetUser(userId).BALANCE.Value;
        return new Dictionary<string, object> { { "BALANCE", Money(after) }, { "delta", Money(after - before) } };
    }

    object operation()
    {
        var mine = ListPayments(userId, Args("operation")).Where(op => op.ID == paidId).ToList();
        var row = mine[0];
        return new Dictionary<string, object> {
            { "matches", mine.Count }, { "SUMMA", Money(row.SUMMA) }, { "NUMBER", row.NUMBER },
            { "DESCR", row.DESCR }, { "OP_DATE", Wall(row.OP_DATE) } };
    }

    object homes()
    {
        var homes = ListHomes(null);
        return new Dictionary<string, object> {
            { "count", homes.Count },
            { "cities", homes.Select(h => h.CITY).Distinct().OrderBy(c => c, StringComparer.Ordinal).ToList() } };
    }

    object home_one()
    {
        var homes = ListHomes((int)Args("home_one")["P_ID"]);
        var home = homes[0];
        return new Dictionary<string, object> {
            { "count", homes.Count }, { "CITY", home.CITY }, { "STREET", home.STREET }, { "S_NUMBER", home.S_NUMBER },
            { "CONNECT_DATE", Wall(home.CONNECT_DATE) } };
    }

    object home_none()
    {
        var homes = ListHomes((int)Args("home_none")["P_ID"]);
        // The proxy's own list type: CLN_HOME_LIST_Row[0] (wsdl) or ArrayOfCLN_HOME_LIST_Row[0] (svcutil).
        return new Dictionary<string, object> {
            { "count", homes == null ? 0 : homes.Count },
            { "empty_as", homes == null ? "null" : homes.GetType().Name.Replace("[]", "") + "[" + homes.Count + "]" } };
    }

    object batch()
    {
        var lines = ((object[])Args("batch")["LINES"]).Cast<Dictionary<string, object>>()
            .Select(line => new Dictionary<string, object>(line) { { "IDEMPOTENCY_KEY", Guid.NewGuid().ToString() } })
            .ToList();
        var first = PostPayments(lines);
        var again = PostPayments(lines);  // the same statement again, keys and all
        batchKey = first[0].IDEMPOTENCY_KEY;
        batchId = first[0].ID;
        return new Dictionary<string, object> {
            { "LINE", first.Select(r => r.LINE).ToList() }, { "STATUS", first.Select(r => r.STATUS).ToList() },
            { "USER_ID", first.Select(r => r.USER_ID).ToList() }, { "CODE", first.Select(r => r.CODE).ToList() },
            { "again", again.Select(r => r.STATUS).ToList() },
            { "same_ids", again.Select(r => r.ID).SequenceEqual(first.Select(r => r.ID)) } };
    }

    object reconcile()
    {
        var report = Reconcile(Args("reconcile"));
        var mine = report.Payments.Where(p => p.IDEMPOTENCY_KEY == batchKey).ToList()[0];
        return new Dictionary<string, object> {
            { "KIND", mine.KIND }, { "JOURNAL_STATE", mine.JOURNAL_STATE }, { "BILLING_SUMMA", Money(mine.BILLING_SUMMA) },
            { "same_id", mine.BILLING_ID == batchId }, { "days", report.Days.Count }, { "DAY", report.FirstDay },
            { "balanced", report.Days[0].JOURNAL_SUMMA == report.Days[0].BILLING_SUMMA } };
    }

    // A field of a batch line, or null when the line does not give it.
    protected static object Field(Dictionary<string, object> line, string name)
    {
        object value;
        return line.TryGetValue(name, out value) ? value : null;
    }

    object fault()
    {
        var observed = ProvokeFault(userId, Args("fault"));
        if (observed == null) throw new InvalidOperationException("no fault");
        return observed;
    }

    // Runs the scenario's steps in order and prints one JSON line per step. The driver is made (the
    // proxy connected) inside a step, so that failing to make it fails steps, not the program.
    protected static void Run(string scenarioPath, Func<Scenario> connect)
    {
        var json = new JavaScriptSerializer();
        var scenario = (Dictionary<string, object>)json.DeserializeObject(File.ReadAllText(scenarioPath, Encoding.UTF8));
        var steps = new Dictionary<string, Dictionary<string, object>>();
        var order = new List<string>();
        foreach (Dictionary<string, object> step in (object[])scenario["steps"])
        {
            steps[(string)step["id"]] = step;
            order.Add((string)step["id"]);
        }
        var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = true };
        Scenario run = null;
        foreach (var step in order)
        {
            var line = new Dictionary<string, object> { { "step", step } };
            try
            {
                if (run == null)
                {
                    run = connect();
                    run.steps = steps;
                }
                line["observed"] = typeof(Scenario).GetMethod(step, BindingFlags.NonPublic | BindingFlags.Instance).Invoke(run, null);
            }
            catch (Exception e)  // every failure is a matrix cell, not a crash of the driver
            {
                var cause = e is TargetInvocationException && e.InnerException != null ? e.InnerException : e;
                line["error"] = cause.GetType().Name + ": " + cause.Message;
            }
            stdout.WriteLine(json.Serialize(line));
        }
    }
}
