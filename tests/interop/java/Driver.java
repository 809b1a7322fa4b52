// Interop driver: JAX-WS RI with a wsimport-generated proxy (package `billing`) runs
// tests/interop/scenario.json against the gateway.
// Usage: java Driver WSDL_URL SCENARIO_JSON (HTTP Basic from INTEROP_USER / INTEROP_PASSWORD).
// Prints one JSON line per step.

import billing.ArrayOfCLNFINOPERRow;
import billing.ArrayOfCLNHOMELISTRow;
import billing.ArrayOfGatewayPaymentLine;
import billing.ArrayOfGatewayReconcileDay;
import billing.BillingGateway;
import billing.BillingService;
import billing.CLNFINOPERRow;
import billing.CLNHOMELISTRow;
import billing.CLNUSRFIND2Row;
import billing.CLNUSRGETResult;
import billing.GatewayPaymentLine;
import billing.GatewayPaymentResult;
import billing.GatewayReconcileDay;
import billing.GatewayReconcilePayment;
import billing.GatewayReconcileReport;
import billing.ObjectFactory;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.lang.reflect.Method;
import java.math.BigDecimal;
import java.net.Authenticator;
import java.net.PasswordAuthentication;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.UUID;

import javax.jws.WebMethod;
import javax.xml.datatype.DatatypeFactory;
import javax.xml.datatype.XMLGregorianCalendar;
import javax.xml.soap.SOAPFault;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.soap.SOAPFaultException;

public final class Driver {
    private static final String TNS = "urn:soap-gateway:billing";
    private static final int TIMEOUT_MS = 30000;
    private static final Gson GSON = new GsonBuilder().serializeNulls().disableHtmlEscaping().create();

    private final BillingGateway port;
    private final Map<String, JsonObject> steps;
    private final DatatypeFactory dates;
    private Integer userId;
    private BigDecimal before;
    private Integer paidId;
    private String batchKey;
    private Integer batchId;

    private Driver(BillingGateway port, Map<String, JsonObject> steps) throws Exception {
        this.port = port;
        this.steps = steps;
        this.dates = DatatypeFactory.newInstance();
    }

    static BillingGateway connect(String wsdlUrl) throws Exception {
        String user = System.getenv("INTEROP_USER");
        String password = System.getenv().getOrDefault("INTEROP_PASSWORD", "");
        if (user != null && !user.isEmpty()) {
            // The WSDL is read through java.net, which authenticates only through an Authenticator.
            Authenticator.setDefault(new Authenticator() {
                @Override
                protected PasswordAuthentication getPasswordAuthentication() {
                    return new PasswordAuthentication(user, password.toCharArray());
                }
            });
        }
        BillingGateway port = new BillingService(new URL(wsdlUrl)).getBillingGateway();
        Map<String, Object> context = ((BindingProvider) port).getRequestContext();
        if (user != null && !user.isEmpty()) {
            context.put(BindingProvider.USERNAME_PROPERTY, user);
            context.put(BindingProvider.PASSWORD_PROPERTY, password);
        }
        context.put("com.sun.xml.ws.connect.timeout", TIMEOUT_MS);
        context.put("com.sun.xml.ws.request.timeout", TIMEOUT_MS);
        return port;
    }

    private JsonObject args(String step) {
        JsonObject args = steps.get(step).getAsJsonObject("args");
        return args == null ? new JsonObject() : args;
    }

    // A dateTime without a timezone is sent without an offset: the billing's wall clock.
    private XMLGregorianCalendar when(String text) {
        return dates.newXMLGregorianCalendar(text);
    }

    private static String wall(XMLGregorianCalendar value) {
        return value == null ? null : value.toXMLFormat();
    }

    private static String money(BigDecimal value) {
        return value == null ? null : value.toPlainString();
    }

    Map<String, Object> wsdl() {
        TreeSet<String> names = new TreeSet<>();
        for (Method method : BillingGateway.class.getMethods()) {
            WebMethod annotation = method.getAnnotation(WebMethod.class);
            if (annotation != null) names.add(annotation.operationName());
        }
        return Map.of("operations", new ArrayList<>(names));
    }

    Map<String, Object> find() {
        // wsimport's wrapped methods take every argument of CLN_USR_FIND_2 in order; null leaves it out.
        List<CLNUSRFIND2Row> found = port.clnUSRFIND2(null, null, null, null, null, null, null, null, null, null,
                null, null, null, null, null, null, args("find").get("CONTRACT_NUMBER_IN").getAsString(),
                null, null, null, null, null, null, null).getRow();
        userId = found.get(0).getID();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("count", found.size());
        out.put("ID", found.get(0).getID());
        out.put("IDENTIFY", found.get(0).getIDENTIFY());
        out.put("BALANCE", money(found.get(0).getBALANCE()));
        return out;
    }

    Map<String, Object> read() {
        CLNUSRGETResult user = port.clnUSRGET(userId);
        before = user.getBALANCE();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("NAME", user.getNAME());
        out.put("CONTRACT_NUMBER", user.getCONTRACTNUMBER());
        out.put("BALANCE", money(user.getBALANCE()));
        out.put("NEXT_AUTO_ACOUNT", wall(user.getNEXTAUTOACOUNT()));
        out.put("DISABLED_DATE", wall(user.getDISABLEDDATE()));
        return out;
    }

    Map<String, Object> pay() {
        JsonObject a = args("pay");
        // IDEMPOTENCY_KEY: in real use the document's own id, the same on every retry.
        paidId = port.clnFINOPERADD(userId, when(a.get("OP_DATE").getAsString()),
                new BigDecimal(a.get("SUMMA").getAsString()), a.get("DESCR").getAsString(),
                a.get("NUMBER").getAsString(), UUID.randomUUID().toString()).getID();
        return Map.of("ID", paidId);
    }

    Map<String, Object> balance() {
        BigDecimal after = port.clnUSRGET(userId).getBALANCE();
        return Map.of("BALANCE", money(after), "delta", money(after.subtract(before)));
    }

    Map<String, Object> operation() {
        JsonObject a = args("operation");
        ArrayOfCLNFINOPERRow listed = port.clnFINOPER(userId, when(a.get("DATEL").getAsString()),
                when(a.get("DATEH").getAsString()), null, null, null, null, null, null);
        List<CLNFINOPERRow> mine = new ArrayList<>();
        for (CLNFINOPERRow op : listed.getRow()) if (paidId.equals(op.getID())) mine.add(op);
        CLNFINOPERRow op = mine.get(0);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("matches", mine.size());
        out.put("SUMMA", money(op.getSUMMA()));
        out.put("NUMBER", op.getNUMBER());
        out.put("DESCR", op.getDESCR());
        out.put("OP_DATE", wall(op.getOPDATE()));
        return out;
    }

    Map<String, Object> homes() {
        List<CLNHOMELISTRow> homes = port.clnHOMELIST(null).getRow();
        TreeSet<String> cities = new TreeSet<>();
        for (CLNHOMELISTRow home : homes) cities.add(home.getCITY());
        return Map.of("count", homes.size(), "cities", new ArrayList<>(cities));
    }

    Map<String, Object> home_one() {
        List<CLNHOMELISTRow> homes = port.clnHOMELIST(args("home_one").get("P_ID").getAsInt()).getRow();
        CLNHOMELISTRow home = homes.get(0);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("count", homes.size());
        out.put("CITY", home.getCITY());
        out.put("STREET", home.getSTREET());
        out.put("S_NUMBER", home.getSNUMBER());
        out.put("CONNECT_DATE", wall(home.getCONNECTDATE()));
        return out;
    }

    Map<String, Object> home_none() {
        ArrayOfCLNHOMELISTRow result = port.clnHOMELIST(args("home_none").get("P_ID").getAsInt());
        List<CLNHOMELISTRow> homes = result == null ? Collections.emptyList() : result.getRow();
        return Map.of("count", homes.size(), "empty_as", result == null ? "null" : "wrapper, " + homes);
    }

    // An array of GatewayPaymentLine; each optional nillable field is a JAXBElement made by the
    // ObjectFactory, and a field left null is not sent.
    private List<GatewayPaymentResult> postPayments(List<JsonObject> lines) {
        ObjectFactory make = new ObjectFactory();
        ArrayOfGatewayPaymentLine sent = new ArrayOfGatewayPaymentLine();
        for (JsonObject values : lines) {
            GatewayPaymentLine line = new GatewayPaymentLine();
            line.setIDEMPOTENCYKEY(values.get("IDEMPOTENCY_KEY").getAsString());
            if (values.has("USER_ID")) line.setUSERID(make.createGatewayPaymentLineUSERID(values.get("USER_ID").getAsInt()));
            if (values.has("CONTRACT_NUMBER")) {
                line.setCONTRACTNUMBER(make.createGatewayPaymentLineCONTRACTNUMBER(values.get("CONTRACT_NUMBER").getAsString()));
            }
            line.setOPDATE(when(values.get("OP_DATE").getAsString()));
            line.setSUMMA(new BigDecimal(values.get("SUMMA").getAsString()));
            if (values.has("DESCR")) line.setDESCR(make.createGatewayPaymentLineDESCR(values.get("DESCR").getAsString()));
            if (values.has("NUMBER")) line.setNUMBER(make.createGatewayPaymentLineNUMBER(values.get("NUMBER").getAsString()));
            sent.getLine().add(line);
        }
        return port.gatewayPostPayments(sent).getResult();
    }

    Map<String, Object> batch() {
        List<JsonObject> lines = new ArrayList<>();
        for (JsonElement line : args("batch").getAsJsonArray("LINES")) {
            JsonObject keyed = line.getAsJsonObject().deepCopy();
            keyed.addProperty("IDEMPOTENCY_KEY", UUID.randomUUID().toString());
            lines.add(keyed);
        }
        List<GatewayPaymentResult> first = postPayments(lines);
        List<GatewayPaymentResult> again = postPayments(lines);  // the same statement again, keys and all
        batchKey = first.get(0).getIDEMPOTENCYKEY();
        batchId = first.get(0).getID();
        List<Object> numbers = new ArrayList<>(), statuses = new ArrayList<>(), users = new ArrayList<>(),
                codes = new ArrayList<>(), repeated = new ArrayList<>(), ids = new ArrayList<>(), againIds = new ArrayList<>();
        for (GatewayPaymentResult r : first) {
            numbers.add(r.getLINE());
            statuses.add(r.getSTATUS());
            users.add(r.getUSERID());
            codes.add(r.getCODE());
            ids.add(r.getID());
        }
        for (GatewayPaymentResult r : again) {
            repeated.add(r.getSTATUS());
            againIds.add(r.getID());
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("LINE", numbers);
        out.put("STATUS", statuses);
        out.put("USER_ID", users);
        out.put("CODE", codes);
        out.put("again", repeated);
        out.put("same_ids", againIds.equals(ids));
        return out;
    }

    Map<String, Object> reconcile() {
        JsonObject a = args("reconcile");
        GatewayReconcileReport report = port.gatewayReconcile(when(a.get("FROM").getAsString()),
                when(a.get("TO").getAsString()), a.get("USER_ID").getAsInt());
        GatewayReconcilePayment mine = null;
        for (GatewayReconcilePayment p : report.getPAYMENTS().getPayment()) {
            if (batchKey.equals(p.getIDEMPOTENCYKEY())) mine = p;
        }
        ArrayOfGatewayReconcileDay days = report.getDAYS();
        GatewayReconcileDay day = days.getDay().get(0);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("KIND", mine.getKIND());
        out.put("JOURNAL_STATE", mine.getJOURNALSTATE());
        out.put("BILLING_SUMMA", money(mine.getBILLINGSUMMA()));
        out.put("same_id", batchId.equals(mine.getBILLINGID()));
        out.put("days", days.getDay().size());
        out.put("DAY", day.getDAY().toXMLFormat());
        out.put("balanced", day.getJOURNALSUMMA().compareTo(day.getBILLINGSUMMA()) == 0);
        return out;
    }

    Map<String, Object> fault() {
        JsonObject a = args("fault");
        try {
            port.clnFINOPERADD(userId, when(a.get("OP_DATE").getAsString()),
                    new BigDecimal(a.get("SUMMA").getAsString()), null, a.get("NUMBER").getAsString(), null);
        } catch (SOAPFaultException e) {
            SOAPFault fault = e.getFault();
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("faultcode", fault.getFaultCodeAsQName().getLocalPart());
            out.put("faultstring", fault.getFaultString());
            out.put("detail_code", fault.getDetail() == null ? null
                    : fault.getDetail().getElementsByTagNameNS(TNS, "code").item(0).getTextContent());
            return out;
        }
        throw new IllegalStateException("no fault");
    }

    public static void main(String[] argv) throws Exception {
        String scenario = Files.readString(Path.of(argv[1]), StandardCharsets.UTF_8);
        Map<String, JsonObject> steps = new LinkedHashMap<>();
        for (JsonElement step : JsonParser.parseString(scenario).getAsJsonObject().getAsJsonArray("steps")) {
            steps.put(step.getAsJsonObject().get("id").getAsString(), step.getAsJsonObject());
        }
        Driver run = null;
        for (String step : steps.keySet()) {
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("step", step);
            try {
                if (run == null) run = new Driver(connect(argv[0]), steps);
                line.put("observed", Driver.class.getDeclaredMethod(step).invoke(run));
            } catch (Throwable e) { // every failure is a matrix cell, not a crash of the driver
                Throwable cause = e instanceof java.lang.reflect.InvocationTargetException ? e.getCause() : e;
                line.put("error", cause.getClass().getSimpleName() + ": " + cause.getMessage());
            }
            System.out.println(GSON.toJson(line));
        }
    }
}
